package kernels

// SIMD names the vector instructions the micro-kernel uses in this build on
// this CPU ("AVX-512"), or is "none" for the portable Go micro-kernel.
var SIMD = "none"
