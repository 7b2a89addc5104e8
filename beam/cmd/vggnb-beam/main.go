// Command vggnb-beam runs `vggnb features|predict --dataset` as an Apache
// Beam pipeline (package pipeline): on Prism, in this process, by default,
// or on any runner Beam's Go SDK submits to (Flink, Spark, Dataflow: see
// README.md).
//
//	vggnb-beam --images '/data/images/*/*.jpg' --out /data/features --shards 8 \
//	  --model vgg19 --weights auto --layer block5_pool --pooling avg
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/debug"

	"github.com/vggnb/vggnb/beam/pipeline"
)

func main() {
	var o pipeline.Options
	flag.StringVar(&o.Pattern, "images", "", "the images' glob (a path, gs://... or s3://...)")
	flag.StringVar(&o.Out, "out", "", "the output directory (a path, gs://... or s3://...)")
	flag.IntVar(&o.Shards, "shards", 4, "how many shards (Parquet files) the images are split into")
	flag.StringVar(&o.Model, "model", "vgg19", "vgg16 or vgg19")
	flag.StringVar(&o.Weights, "weights", "auto", "auto, imagenet, synthetic or a Keras .h5 file (on every worker)")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed of SYNTHETIC weights")
	flag.BoolVar(&o.IncludeTop, "include-top", false, "include the classifier (with --top)")
	flag.StringVar(&o.Layer, "layer", "block5_pool", "the layer whose output is a row")
	flag.StringVar(&o.Pooling, "pooling", "", "avg or max: pool a 4-D output over its pixels")
	flag.IntVar(&o.TopK, "top", 0, "write the top k ImageNet classes instead of features (needs --include-top)")
	flag.IntVar(&o.Height, "height", 224, "images are resized to HEIGHTxWIDTH")
	flag.IntVar(&o.Width, "width", 224, "")
	flag.StringVar(&o.Interpolation, "interpolation", "nearest", "resize filter (Keras' load_img's)")
	flag.IntVar(&o.Batch, "batch", 8, "images run together")
	flag.IntVar(&o.RowGroup, "row-group", 1024, "rows per Parquet row group")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	beam.Init()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vggnb-beam:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if o.Pattern == "" || o.Out == "" {
		fmt.Fprintln(os.Stderr, "vggnb-beam: --images and --out are required")
		os.Exit(2)
	}
	p, s := beam.NewPipelineWithRoot()
	debug.Print(s, pipeline.Build(s, o))
	if err := beamx.Run(context.Background(), p); err != nil {
		fmt.Fprintln(os.Stderr, "vggnb-beam:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
