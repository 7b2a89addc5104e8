// Package oip is a client of the Open Inference Protocol's HTTP/REST API
// (KServe's v2 protocol, as NVIDIA Triton, KServe and Seldon MLServer serve
// it), written from the protocol's specification and its binary tensor data
// extension, for FP32 tensors: what vggnb's tests speak to `vggnb serve`
// with, and a small client for any such server.
//
//	c := &oip.Client{Base: "http://127.0.0.1:8080"}
//	out, err := c.Infer(ctx, "vgg19", oip.Tensor{Name: "input_1", Shape: []int{1, 224, 224, 3}, Data: x}, oip.Binary)
package oip

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
)

// HeaderLength is the binary extension's header: the length of the JSON
// object at the start of a body that binary tensor data follows.
const HeaderLength = "Inference-Header-Content-Length"

// Client speaks the protocol to the server at Base.
type Client struct {
	// Base is the server's URL, such as "http://127.0.0.1:8080".
	Base string
	// Token, if set, is sent as Authorization: Bearer TOKEN.
	Token string
	// HTTP is the client requests go through (nil: http.DefaultClient).
	HTTP *http.Client
}

// Error is a server's answer other than 200: its status and the protocol's
// {"error": "..."} message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("oip: %d %s", e.Status, e.Message) }

// Tensor is an FP32 tensor: a request's input or a response's output.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Encoding is how a request sends its input and asks for its output.
type Encoding int

const (
	// JSON sends the input as a flat JSON array and gets the output so.
	JSON Encoding = iota
	// Nested sends the input as JSON arrays nested by its shape.
	Nested
	// Binary sends the input and gets the output as the binary extension's
	// little-endian bytes after the JSON object.
	Binary
)

// Metadata is a model's metadata (GET /v2/models/NAME).
type Metadata struct {
	Name     string   `json:"name"`
	Versions []string `json:"versions"`
	Platform string   `json:"platform"`
	Inputs   []Info   `json:"inputs"`
	Outputs  []Info   `json:"outputs"`
}

// Info describes a model's input or output; -1 is a dynamic dimension.
type Info struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

// ServerMetadata is GET /v2's answer.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// Live reports whether GET /v2/health/live answers 200.
func (c *Client) Live(ctx context.Context) (bool, error) { return c.ok(ctx, "/v2/health/live") }

// Ready reports whether GET /v2/health/ready answers 200.
func (c *Client) Ready(ctx context.Context) (bool, error) { return c.ok(ctx, "/v2/health/ready") }

// ModelReady reports whether GET /v2/models/NAME/ready answers 200.
func (c *Client) ModelReady(ctx context.Context, model string) (bool, error) {
	return c.ok(ctx, "/v2/models/"+url.PathEscape(model)+"/ready")
}

// Server is GET /v2.
func (c *Client) Server(ctx context.Context) (ServerMetadata, error) {
	var m ServerMetadata
	return m, c.getJSON(ctx, "/v2", &m)
}

// Model is GET /v2/models/NAME.
func (c *Client) Model(ctx context.Context, model string) (Metadata, error) {
	var m Metadata
	return m, c.getJSON(ctx, "/v2/models/"+url.PathEscape(model), &m)
}

// Infer runs the model on one input and returns its one output, sent and
// received as enc says.
func (c *Client) Infer(ctx context.Context, model string, in Tensor, enc Encoding) (Tensor, error) {
	input := map[string]any{"name": in.Name, "shape": in.Shape, "datatype": "FP32"}
	var raw []byte
	switch enc {
	case JSON:
		input["data"] = in.Data
	case Nested:
		input["data"] = nest(in.Data, in.Shape)
	case Binary:
		raw = make([]byte, 4*len(in.Data))
		for i, v := range in.Data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		input["parameters"] = map[string]any{"binary_data_size": len(raw)}
	}
	req := map[string]any{"inputs": []any{input}}
	if enc == Binary {
		req["parameters"] = map[string]any{"binary_data_output": true}
	}
	head, err := json.Marshal(req)
	if err != nil {
		return Tensor{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/v2/models/"+url.PathEscape(model)+"/infer", bytes.NewReader(append(head, raw...)))
	if err != nil {
		return Tensor{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if enc == Binary {
		hr.Header.Set("Content-Type", "application/octet-stream")
		hr.Header.Set(HeaderLength, strconv.Itoa(len(head)))
	}
	resp, body, err := c.do(hr)
	if err != nil {
		return Tensor{}, err
	}
	return decodeResponse(resp.Header.Get(HeaderLength), body)
}

// decodeResponse reads an inference response's one FP32 output, from its
// JSON data or from the binary part after the first headerLength bytes.
func decodeResponse(headerLength string, body []byte) (Tensor, error) {
	head, rest := body, []byte(nil)
	if headerLength != "" {
		n, err := strconv.Atoi(headerLength)
		if err != nil || n < 0 || n > len(body) {
			return Tensor{}, fmt.Errorf("oip: %s %q for a body of %d bytes", HeaderLength, headerLength, len(body))
		}
		head, rest = body[:n], body[n:]
	}
	var r struct {
		Outputs []struct {
			Name       string         `json:"name"`
			Datatype   string         `json:"datatype"`
			Shape      []int          `json:"shape"`
			Parameters map[string]any `json:"parameters"`
			Data       []float32      `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(head, &r); err != nil {
		return Tensor{}, fmt.Errorf("oip: the response: %w", err)
	}
	if len(r.Outputs) != 1 || r.Outputs[0].Datatype != "FP32" {
		return Tensor{}, fmt.Errorf("oip: the response has %d outputs, want one FP32", len(r.Outputs))
	}
	o := r.Outputs[0]
	t := Tensor{Name: o.Name, Shape: o.Shape, Data: o.Data}
	if size, ok := o.Parameters["binary_data_size"].(float64); ok {
		if int(size) != len(rest) || len(rest)%4 != 0 {
			return Tensor{}, fmt.Errorf("oip: binary_data_size %v with %d bytes after the JSON", size, len(rest))
		}
		t.Data = make([]float32, len(rest)/4)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
		}
	}
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	if n != len(t.Data) {
		return Tensor{}, fmt.Errorf("oip: output %s of shape %v has %d values", t.Name, t.Shape, len(t.Data))
	}
	return t, nil
}

// nest arranges flat row-major data as JSON arrays nested by shape.
func nest(data []float32, shape []int) any {
	if len(shape) <= 1 {
		return data
	}
	step := len(data) / max(shape[0], 1)
	out := make([]any, shape[0])
	for i := range out {
		out[i] = nest(data[i*step:(i+1)*step], shape[1:])
	}
	return out
}

func (c *Client) ok(ctx context.Context, path string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return false, err
	}
	_, _, err = c.do(req)
	var e *Error
	if errors.As(err, &e) {
		return false, nil
	}
	return err == nil, err
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return err
	}
	_, body, err := c.do(req)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// do sends req and reads the answer: an *Error unless 200.
func (c *Client) do(req *http.Request) (*http.Response, []byte, error) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			return nil, nil, &Error{Status: resp.StatusCode, Message: fmt.Sprintf("(not the protocol's {\"error\": ...}) %q", body)}
		}
		return nil, nil, &Error{Status: resp.StatusCode, Message: e.Error}
	}
	return resp, body, nil
}
