// PyTorch `torch.save` files (pytorch_model.bin) holding a state dict, read without Python.
//
// The file is a zip archive (torch >= 1.6) with a pickle ("data.pkl") that describes the
// dict and its tensors, and one record per storage ("data/<key>"). The archive is opened with
// LibTorch's own zip reader (caffe2::serialize::PyTorchStreamReader, in LibTorch 1.13 and 2.x).
//
// The pickle is decoded by a small restricted unpickler of ours: it builds only containers
// (dict, OrderedDict, list, tuple), scalars, strings and tensors, and accepts only the globals
// that torch.save writes for them (torch._utils._rebuild_tensor_v2, torch.*Storage,
// collections.OrderedDict, ...). Any other global (a class, os.system, ...) is refused with a
// UserError: nothing from the file is ever executed. LibTorch's torch::pickle_load is not
// used because it turns a top-level collections.OrderedDict -- what `torch.save(
// model.state_dict())` and transformers < 4.18 write -- into None (LibTorch 1.13 and 2.x alike).
#pragma once

#include <string>

#include "model/safetensors.h"

namespace electra::model {

// Reads the state dict of a torch.save zip file. Tensors that shared storage in Python share
// it here too. UserError (naming the file) for the legacy pre-1.6 format, a pickle that is not
// a flat {name: tensor} dict, a disallowed global, or records that do not fit their tensors.
TensorMap read_torch_bin(const std::string& path);

}  // namespace electra::model
