package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/weights"
)

// The Open Inference Protocol (KServe's v2, Triton's and Seldon MLServer's
// HTTP/REST API), beside /predict:
//
//	GET  /v2                                          server metadata
//	GET  /v2/health/live, /v2/health/ready            200 when live, ready
//	GET  /v2/models/NAME[/versions/V]                 model metadata
//	GET  /v2/models/NAME[/versions/V]/ready           200 when ready
//	POST /v2/models/NAME[/versions/V]/infer           inference
//
// Tensors are FP32, their data flat or nested in row-major order; the binary
// tensor data extension (Inference-Header-Content-Length; the binary_data_size
// and binary_data parameters, and binary_data_output) carries inputs and
// outputs as little-endian bytes after the JSON, as Triton's clients send
// them. Errors are {"error": "..."}.

// InferHeaderLength is the binary tensor data extension's header: the length
// of the JSON object at the start of a body that binary tensors follow.
const InferHeaderLength = "Inference-Header-Content-Length"

// ModelVersion is the only version of the model a server serves.
const ModelVersion = "1"

// v2Tensor is a tensor's metadata (model metadata's inputs and outputs).
type v2Tensor struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

// v2Input is one input of an inference request.
type v2Input struct {
	Name       string          `json:"name"`
	Shape      []int           `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// v2RequestOutput is an output an inference request asks for.
type v2RequestOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// v2Request is an inference request.
type v2Request struct {
	ID         string            `json:"id,omitempty"`
	Parameters map[string]any    `json:"parameters,omitempty"`
	Inputs     []v2Input         `json:"inputs"`
	Outputs    []v2RequestOutput `json:"outputs,omitempty"`
}

// v2Output is one output of an inference response.
type v2Output struct {
	Name       string         `json:"name"`
	Datatype   string         `json:"datatype"`
	Shape      []int          `json:"shape"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       []float32      `json:"data,omitempty"`
}

// v2Response is an inference response.
type v2Response struct {
	ModelName    string     `json:"model_name"`
	ModelVersion string     `json:"model_version"`
	ID           string     `json:"id,omitempty"`
	Outputs      []v2Output `json:"outputs"`
}

// routesV2 adds the protocol's endpoints to mux.
func (s *Server) routesV2(mux *http.ServeMux) {
	mux.HandleFunc("/v2", s.get(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": "vggnb", "version": serverVersion, "extensions": []string{"binary_tensor_data"}})
	}))
	mux.HandleFunc("/v2/health/live", s.get(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	mux.HandleFunc("/v2/health/ready", s.get(s.handleReady))
	for _, prefix := range []string{"/v2/models/{name}", "/v2/models/{name}/versions/{version}"} {
		mux.HandleFunc(prefix, s.get(s.model(s.handleModelMetadata)))
		mux.HandleFunc(prefix+"/ready", s.get(s.model(s.handleReady)))
		mux.HandleFunc(prefix+"/infer", s.model(s.handleInfer))
	}
}

// serverVersion is what GET /v2 says of the server's version.
const serverVersion = "0.16"

// get answers only GET (and HEAD) with h.
func (s *Server) get(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.writeError(w, &httpError{http.StatusMethodNotAllowed, "GET " + r.URL.Path})
			return
		}
		h(w, r)
	}
}

// model answers 404 for a model or version this server does not serve.
func (s *Server) model(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if name := r.PathValue("name"); name != s.cfg.ModelName {
			s.writeError(w, &httpError{http.StatusNotFound, fmt.Sprintf("no model %q: this server serves %q", name, s.cfg.ModelName)})
			return
		}
		if v := r.PathValue("version"); v != "" && v != ModelVersion {
			s.writeError(w, &httpError{http.StatusNotFound, fmt.Sprintf("no version %q of model %q: it has version %s", v, s.cfg.ModelName, ModelVersion)})
			return
		}
		h(w, r)
	}
}

// handleReady is 200 while the server takes requests, 503 once it is
// shutting down (the model was checked before it was made).
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.stop:
		s.writeError(w, &httpError{http.StatusServiceUnavailable, "the server is shutting down"})
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) handleModelMetadata(w http.ResponseWriter, r *http.Request) {
	f := s.file
	writeJSON(w, http.StatusOK, map[string]any{"name": s.cfg.ModelName, "versions": []string{ModelVersion}, "platform": "onnx_onnxv1",
		"inputs":  []v2Tensor{{Name: f.Input.Name, Datatype: "FP32", Shape: f.Input.Dims}},
		"outputs": []v2Tensor{{Name: f.Output.Name, Datatype: "FP32", Shape: f.Output.Dims}}})
}

func (s *Server) handleInfer(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, &httpError{http.StatusMethodNotAllowed, "POST an inference request to " + r.URL.Path})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	type parsed struct {
		req *v2Request
		x   *tensors.Tensor
	}
	p, err := readInput(ctx, s, w, r, func(body []byte) (parsed, error) {
		req, x, err := s.parseInfer(r.Header.Get(InferHeaderLength), body)
		return parsed{req, x}, err
	})
	req, x := p.req, p.x
	if err != nil {
		s.writeError(w, err)
		return
	}
	binary, err := s.inferOutputs(req)
	if err != nil {
		s.writeError(w, err)
		return
	}
	y, _, err := s.compute(ctx, x, true, "send a smaller input")
	if err != nil {
		s.writeError(w, err)
		return
	}
	out := v2Output{Name: s.file.Output.Name, Datatype: "FP32", Shape: y.Shape().Dimensions}
	v := tensors.MustCopyFlatData[float32](y)
	resp := v2Response{ModelName: s.cfg.ModelName, ModelVersion: ModelVersion, ID: req.ID}
	if !binary {
		out.Data = v
		resp.Outputs = []v2Output{out}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	raw := weights.Float32sToLE(v)
	out.Parameters = map[string]any{"binary_data_size": len(raw)}
	resp.Outputs = []v2Output{out}
	head, err := json.Marshal(resp)
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(InferHeaderLength, strconv.Itoa(len(head)))
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(raw)))
	w.WriteHeader(http.StatusOK)
	w.Write(head)
	w.Write(raw)
}

// parseInfer reads an inference request: its JSON (the first headerLength
// bytes of body when the binary extension's header is given) and its one
// input, from JSON data or from the binary part.
func (s *Server) parseInfer(headerLength string, body []byte) (*v2Request, *tensors.Tensor, error) {
	head, rest := body, []byte(nil)
	if headerLength != "" {
		n, err := strconv.Atoi(headerLength)
		if err != nil || n < 0 || n > len(body) {
			return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("%s: %q for a body of %d bytes", InferHeaderLength, headerLength, len(body))}
		}
		head, rest = body[:n], body[n:]
	}
	var req v2Request
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, nil, &httpError{http.StatusBadRequest, "malformed inference request: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, &httpError{http.StatusBadRequest, "malformed inference request: something follows the JSON object" +
			" (binary tensors need the " + InferHeaderLength + " header)"}
	}
	if len(req.Inputs) != 1 {
		return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("%d inputs: this model takes one, %s", len(req.Inputs), s.file.Input)}
	}
	in := req.Inputs[0]
	if in.Name != s.file.Input.Name {
		return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("input %q: this model's input is %q", in.Name, s.file.Input.Name)}
	}
	if in.Datatype != "FP32" {
		return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("input %s has datatype %q: this model takes FP32", in.Name, in.Datatype)}
	}
	var v []float32
	size, binary := in.Parameters["binary_data_size"]
	switch {
	case binary && len(in.Data) > 0:
		return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("input %s has both data and binary_data_size", in.Name)}
	case binary:
		n, ok := size.(float64)
		if !ok || n != math.Trunc(n) || n < 0 || int(n) != len(rest) || int(n)%4 != 0 {
			return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("input %s: binary_data_size %v, with %d bytes after the JSON (want equal, a multiple of 4)", in.Name, size, len(rest))}
		}
		v = weights.Float32sFromLE(rest)
	case len(rest) > 0:
		return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("%d bytes follow the JSON, and no input has binary_data_size", len(rest))}
	default:
		var err error
		if v, err = flatten(in.Data); err != nil {
			return nil, nil, &httpError{http.StatusBadRequest, fmt.Sprintf("input %s: %v", in.Name, err)}
		}
	}
	x, err := s.tensor(in.Shape, v)
	return &req, x, err
}

// inferOutputs checks the outputs a request asks for and says whether the
// output goes back as binary data.
func (s *Server) inferOutputs(req *v2Request) (binary bool, err error) {
	all, err := boolParam(req.Parameters, "binary_data_output")
	if err != nil {
		return false, err
	}
	switch len(req.Outputs) {
	case 0:
		return all, nil
	case 1:
	default:
		return false, &httpError{http.StatusBadRequest, fmt.Sprintf("%d outputs asked for: this model has one, %s", len(req.Outputs), s.file.Output.Name)}
	}
	o := req.Outputs[0]
	if o.Name != s.file.Output.Name {
		return false, &httpError{http.StatusBadRequest, fmt.Sprintf("output %q: this model's output is %q", o.Name, s.file.Output.Name)}
	}
	if _, ok := o.Parameters["binary_data"]; ok {
		return boolParam(o.Parameters, "binary_data")
	}
	return all, nil
}

// boolParam is parameter name of params, false if absent, an error if not a bool.
func boolParam(params map[string]any, name string) (bool, error) {
	v, ok := params[name]
	if !ok {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, &httpError{http.StatusBadRequest, fmt.Sprintf("parameter %s is %v: want true or false", name, v)}
	}
	return b, nil
}

// flatten reads a tensor's JSON data, flat or nested arrays of numbers in
// row-major order, as float32s.
func flatten(data json.RawMessage) ([]float32, error) {
	if len(data) == 0 {
		return nil, errors.New("no data (want \"data\": [...] or the binary_data_size parameter)")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []float32
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed data: %w", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '[':
				if depth++; depth > 8 {
					return nil, errors.New("data nested deeper than 8 arrays")
				}
			case ']':
				depth--
			default:
				return nil, errors.New("data holds an object: want arrays of numbers")
			}
		case json.Number:
			if depth == 0 {
				return nil, errors.New("data is a number: want an array")
			}
			f, err := strconv.ParseFloat(string(t), 32)
			if err != nil {
				return nil, fmt.Errorf("value %d, %s: not a float32", len(out), t)
			}
			out = append(out, float32(f))
		default:
			return nil, fmt.Errorf("value %d is %v: want numbers", len(out), tok)
		}
	}
	return out, nil
}

// sizeOf is the number of values of a tensor of dims.
func sizeOf(dims []int) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	return n
}
