// Package k8s holds no code: its test decodes vggnb's Kubernetes manifests
// (serve.yaml: a Deployment, a Service and a HorizontalPodAutoscaler;
// kserve.yaml: a KServe ServingRuntime and InferenceService) strictly into
// the Kubernetes API types, so that a typo fails. It is a module of its own so
// that vggnb's module does not depend on k8s.io/api.
package k8s
