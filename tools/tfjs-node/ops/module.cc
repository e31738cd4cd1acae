// lora_ops.node: native TensorFlow kernels for @lora/models on the tensorflow backend (tfjs-node).
// tools/tfjs-node/setup.sh compiles every ops/*.cc against the headers of the TensorFlow wheel that
// libtensorflow comes from, and links it to the same libtensorflow_framework.so.2, into
// lib/napi-vN/lora_ops.node beside the tfjs-node addon. The file is also an N-API module, so Node's
// `process.dlopen` loads it; loading runs the ops' static registrations (REGISTER_OP,
// REGISTER_KERNEL_BUILDER) in TensorFlow's global registries, after which tfjs-node's
// `binding.executeOp` runs them by name like any TensorFlow op.
#include <node_api.h>

// Bumped whenever an op's signature or semantics change; @lora/models refuses another version.
static constexpr uint32_t kOpsVersion = 6;

static napi_value Init(napi_env env, napi_value exports) {
  napi_value version;
  napi_create_uint32(env, kOpsVersion, &version);
  napi_set_named_property(env, exports, "opsVersion", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
