// Package nb05 is the source of notebooks/05_freezing.ipynb: "Freezing a
// Keras model" in Go. go run ./notebooks/gen writes the notebook from it; the
// //gonb: comments mark its cells (see notebooks/gen).
//
//gonb:notebook 05_freezing.ipynb
package nb05

//gonb:markdown
/*
# Freezing a model into one file another runtime serves

The post *"Freezing a Keras model"* turns a trained model into **one inference artifact**: the graph and its
weights as constants, with named input and output nodes, that another runtime (C++, the web) loads without
Python. Its readers' hardest step was finding the **output node's name** (with TensorBoard). Here, in Go:

1. train the MNIST-style MLP (Fashion-MNIST, with batch normalisation and dropout), and **freeze** it: one ONNX
   file, in the test phase (dropout gone, batch norm folded into the Dense weights);
2. show its **node names** and **draw its graph**: the input is `input_1`, the output is named after its Keras
   layer;
3. run the frozen file in **ONNX Runtime** (the npm package `onnxruntime-node`, the runtime a C++ or web server
   would use) from a cell, and compare with the model and with GoMLX running the same file;
4. freeze **VGG19 without its top** and **serve** it over HTTP (`POST /predict` an image, JSON back).

Freezing is pure Go (package `gomlx_vgg/freeze`, ONNX opset 13): no Python, no runtime at export time.

**After a kernel restart, run the Set-up cell first**; every other cell then runs on its own, in any order (a
cell that needs the frozen MLP says which cell writes it). With no ImageNet file on this machine, VGG19 has
**SYNTHETIC weights** (deterministic random values in the Keras layout), and the cell that uses it says so.
*/

//gonb:markdown
/*
## Set-up

The pins and imports. The frozen files go to the notebooks' work directory (`nb.Dir("05")`).
*/

//gonb:setup
import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/serve"
	"github.com/vggnb/vggnb/notebooks/nb"
	"github.com/vggnb/vggnb/weights"
)

//gonb:markdown
/*
## 1. Train the MLP, then freeze it

The seed's MLP with batch normalisation before each ReLU and dropout 0.2 (the "Keras as a simplified interface to
TensorFlow" post's test-phase example): 1,200 SGD steps on Fashion-MNIST. `adapt.MLP` takes it in the test
phase and `WriteFile` writes one ONNX file (atomically: whole or not at all). The model's own predictions on the
first 100 test images are saved beside it, for the comparison in section 3.
*/

//gonb:main
func _() {
	train, test := nb.FashionMNIST()
	m := mlp.New(mlp.Config{BatchNorm: true, Dropout: 0.2, LearningRate: 0.1}, nil)
	t0 := time.Now()
	_, err := m.Train(train, 1200, nil, nil, 0, nil)
	nb.Must(err)
	acc, err := m.Accuracy(test)
	nb.Must(err)
	fmt.Printf("trained %d steps in %.1fs: test accuracy %.4f\n",
		m.Steps(), time.Since(t0).Seconds(), acc)

	net, err := adapt.MLP(m)
	nb.Must(err)
	path := filepath.Join(nb.Dir("05"), "mlp.onnx")
	nb.Must(net.WriteFile(path))
	ref, err := m.Predict(nb.Examples(test, 100))
	nb.Must(err)
	nb.Must(ref.Save(filepath.Join(nb.Dir("05"), "mlp_predictions.bin")))
	f, err := freeze.Open(path)
	nb.Must(err)
	fmt.Printf("froze %s\n  into %s (%d weights, %d bytes)\n",
		f.Title(), filepath.Base(path), f.Params, f.Size)
	fmt.Printf("input node:  %s\noutput node: %s\n", f.Input, f.Output)
}

//gonb:markdown
/*
## 2. The node names, and the graph

What the post looked for in TensorBoard: `Summary` lists every node of the frozen file (needs section 1's file),
and `display.FrozenGraph` draws it. The batch axis `N` is dynamic; the two Dense layers with their folded batch
normalisation are plain `Gemm` nodes.
*/

//gonb:main
func _() {
	f, err := freeze.Open(filepath.Join(nb.Dir("05"), "mlp.onnx"))
	nb.Must(err)
	fmt.Print(f.Summary())
	svg, err := display.FrozenGraph(f)
	nb.Must(err)
	display.MustShow(svg)
}

//gonb:markdown
/*
## 3. The frozen file in ONNX Runtime

`nb.ORT().Run` hands the file and a batch to ONNX Runtime 1.30 (`onnxruntime-node`, CPU, pinned in `scripts/ort`;
installed with `npm ci --ignore-scripts` on first use). Its outputs are compared with the trained model's own
predictions (saved by section 1) and with GoMLX running the same file (`freeze.File.Runner`): the largest
difference as a fraction of the largest output, and whether the predicted classes agree.
*/

//gonb:main
func _() {
	dir := nb.Dir("05")
	path := filepath.Join(dir, "mlp.onnx")
	_, test := nb.FashionMNIST()
	x := nb.Examples(test, 100)
	model, err := tensors.Load(filepath.Join(dir, "mlp_predictions.bin"))
	nb.Must(err)
	res, err := nb.ORT().Run(context.Background(), path, freeze.InputName, x, "")
	nb.Must(err)
	f, err := freeze.Open(path)
	nb.Must(err)
	runner, err := f.Runner(nil)
	nb.Must(err)
	gomlx, err := runner.Run(x)
	nb.Must(err)
	fmt.Printf("ONNX Runtime %s ran %s on %v in %.1f ms\n",
		res.Version, filepath.Base(path), x.Shape().Dimensions, res.Millis)
	want := consistency.FromTensors("trained MLP", map[string]*tensors.Tensor{"dense_3": model})
	for _, c := range []struct {
		name string
		got  *tensors.Tensor
	}{{"ONNX Runtime", res.Output}, {"GoMLX, frozen file", gomlx}} {
		got := consistency.FromTensors(c.name, map[string]*tensors.Tensor{"dense_3": c.got})
		r := consistency.Check(got, want, []string{"dense_3"}, 1e-5)
		display.MustShow(display.ConsistencyTable(r))
		fmt.Printf("%s: the same class as the trained model for %d of 100 images\n",
			c.name, nb.SameArgmax(model, c.got))
	}
}

//gonb:markdown
/*
## 4. Freeze VGG19 and serve it

`vggnb freeze --model vgg19 --out vgg19.onnx` does this from a terminal; here the library call. VGG19 without its
top: the input is `input_1`, (N, H, W, 3) with H and W dynamic, already preprocessed; the output is `block5_pool`.
Then `vggnb serve`'s server runs in this cell on 127.0.0.1: one `POST /predict` with the demo photo (resized to
224×224, preprocessed by the server) and `GET /metadata`, then a graceful shutdown.
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	if _, synthetic := nb.VGG19Weights(); synthetic {
		display.MustShow(display.Markdown("**⚠ " + weights.SyntheticNotice + "**"))
	}
	frozen, err := adapt.VGG(m)
	nb.Must(err)
	path := filepath.Join(nb.Dir("05"), "vgg19_notop.onnx")
	nb.Must(frozen.WriteFile(path))
	f, err := freeze.Open(path)
	nb.Must(err)
	fmt.Printf("froze %s: %d weights, %.1f MB\ninput node:  %s\noutput node: %s\n",
		filepath.Base(path), f.Params, float64(f.Size)/1e6, f.Input, f.Output)

	runner, err := f.Runner(nil)
	nb.Must(err)
	s := serve.New(runner, serve.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	nb.Must(err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, 10*time.Second) }()
	base := "http://" + ln.Addr().String()

	resp, err := http.Post(base+"/predict", "image/png", bytes.NewReader(imagenet.DemoImagePNG()))
	nb.Must(err)
	var a serve.Answer
	nb.Must(json.NewDecoder(resp.Body).Decode(&a))
	resp.Body.Close()
	fmt.Printf("POST /predict (the demo photo) -> %s: %s %v,\n  mean %.4g, std %.4g, max %.4g (%.0f ms)\n",
		resp.Status, a.Output, a.Shape, a.Stats.Mean, a.Stats.Std, a.Stats.Max, a.Millis)
	if a.Synthetic {
		fmt.Println("  the answer says: synthetic weights")
	}
	resp, err = http.Get(base + "/metadata")
	nb.Must(err)
	var md serve.Metadata
	nb.Must(json.NewDecoder(resp.Body).Decode(&md))
	resp.Body.Close()
	fmt.Printf("GET /metadata -> %s: input %s %v, output %s %v,\n",
		resp.Status, md.Input.Name, md.Input.Shape, md.Output.Name, md.Output.Shape)
	fmt.Printf("  weights sha256 %s…, opset %d, max batch %d\n",
		md.WeightsSHA256[:16], md.Opset, md.Limits.MaxBatch)
	stop()
	nb.Must(<-done)
	fmt.Println("server stopped")
}
