#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses from the test fixtures and a few hand-made
files. Run from the repository root with Debian's python3 (it has torch, for the .bin seeds):
    /usr/bin/python3 tests/fuzz/make_seeds.py
corpus/tf_bundle comes from make_tf_seeds.cpp; corpus/checkpoint_state holds files of a real
tiny pretraining checkpoint (see its README). Regression seeds added for fixed bugs are not
written here: they are committed as found."""
import json
import os
import struct

OUT = "tests/fuzz/corpus"
FIX = "tests/fixtures"


def put(harness, name, data):
    os.makedirs(os.path.join(OUT, harness), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, harness, name), "wb") as f:
        f.write(data)


def head(path, lines=8):
    with open(path, "rb") as f:
        return b"".join(f.readlines()[:lines])


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


put("safetensors", "two_tensors", safetensors(
    {"a.weight": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
     "b.bias": ("I64", [1], struct.pack("<q", 7))}, {"format": "pt"}))
put("safetensors", "dtypes", safetensors(
    {"h": ("F16", [2], b"\x00\x3c\x00\xc0"), "bf": ("BF16", [1], b"\x80\x3f"),
     "m": ("BOOL", [3], b"\x01\x00\x01"), "e": ("F64", [0, 5], b""), "s": ("I8", [], b"\x05")}))

try:
    import collections
    import torch
    sd = collections.OrderedDict()
    sd["electra.embeddings.word_embeddings.weight"] = torch.arange(6, dtype=torch.float32).view(3, 2)
    sd["electra.embeddings.LayerNorm.bias"] = torch.zeros(2, dtype=torch.float16)
    base = torch.arange(8, dtype=torch.float32)
    sd["shared.a"] = base[:4]
    sd["shared.b"] = base[2:].view(2, 3)
    torch.save(sd, "/tmp/electra_seed.bin")
    put("torch_bin", "ordered_dict", open("/tmp/electra_seed.bin", "rb").read())
    torch.save({"x": torch.tensor([1, 2], dtype=torch.int64), "y": torch.ones(2, 2).t()}, "/tmp/electra_seed.bin")
    put("torch_bin", "plain_dict", open("/tmp/electra_seed.bin", "rb").read())
except ImportError:
    print("no torch: corpus/torch_bin keeps its committed seeds")
put("torch_bin", "unsafe_global", open(f"{FIX}/hf_io/bin-unsafe/pytorch_model.bin", "rb").read())
put("torch_bin", "legacy", open(f"{FIX}/hf_io/bin-legacy/pytorch_model.bin", "rb").read())

for sel, name in [(0, "cased"), (1, "uncased"), (2, "chinese")]:
    put("vocab", name, bytes([sel]) + open(f"{FIX}/wordpiece/{name}_vocab.txt", "rb").read())

put("sentencepiece", "tiny", open(f"{FIX}/text_models/generator/spm.model", "rb").read())

put("yaml_config", "pretrain_tiny", b"\x00" + open("configs/pretrain/electra-tiny.yaml", "rb").read())
put("yaml_config", "finetune_mrpc", b"\x01" + open("configs/finetune/glue/mrpc.yaml", "rb").read())
put("yaml_config", "finetune_csl", b"\x01" + open("configs/finetune/clue/csl.yaml", "rb").read())
put("yaml_config", "override", b"\x02train.steps=5")
put("yaml_config", "override_list", b"\x02data.inputs=[a.txt, 'b c.txt']")
put("yaml_config", "anchors", b"\x00model: &m {hidden_size: 64}\ngenerator: *m\n")

# Task order of finetune/task.cpp's all_tasks(); the harness picks task (sel >> 1) (GLUE) or
# (sel >> 2) (CLUE) and the split kind from the low bits.
GLUE = [("CoLA", "test.tsv"), ("SST-2", "test.tsv"), ("MRPC", "test.tsv"), ("STS-B", "test.tsv"),
        ("QQP", "test.tsv"), ("MNLI", "test_matched.tsv"), ("QNLI", "test.tsv"),
        ("RTE", "test.tsv"), ("WNLI", "test.tsv")]
for i, (folder, test) in enumerate(GLUE):
    d = f"{FIX}/glue/{folder}"
    put("glue_tsv", f"{folder}_train", bytes([i << 1]) + head(f"{d}/train.tsv"))
    if os.path.exists(f"{d}/{test}"):
        put("glue_tsv", f"{folder}_test", bytes([(i << 1) | 1]) + head(f"{d}/{test}"))
CLUE = ["afqmc", "tnews", "iflytek", "cmnli", "ocnli", "cluewsc2020", "csl"]
for i, folder in enumerate(CLUE):
    d = f"{FIX}/clue/{folder}"
    put("clue_jsonl", f"{folder}_train", bytes([i << 2]) + head(f"{d}/train.json"))
    if os.path.exists(f"{d}/test.json"):
        put("clue_jsonl", f"{folder}_test", bytes([(i << 2) | 1]) + head(f"{d}/test.json"))
    if os.path.exists(f"{d}/labels.json"):
        put("clue_jsonl", f"{folder}_labels", bytes([(i << 2) | 3]) + head(f"{d}/labels.json", 20))

text = "The first sentence.\nA second one.\n\nAnother document.\r\nWith CRLF.\n\n\n中文的文档。\n"
wiki = ('<doc id="1" url="u" title="A">\nA\n\nFirst paragraph.\nSecond.\n</doc>\n'
        '<doc id="2" url="u" title="B">\nB\n\nOnly one.\n</doc>\n')
jsonl = '{"text": "one\\ntwo"}\n{"text": "three", "id": 2}\n\n{"text": "\\u4e2d\\u6587"}\n'
put("corpus", "text", bytes([0]) + text.encode())
put("corpus", "text_chunked", bytes([0 | (5 << 2) | 128]) + text.encode())
put("corpus", "wikiextractor", bytes([1]) + wiki.encode())
put("corpus", "wikiextractor_chunked", bytes([1 | (9 << 2) | 2]) + wiki.encode())
put("corpus", "jsonl", bytes([2]) + jsonl.encode())
put("corpus", "jsonl_chunked", bytes([2 | (3 << 2) | 128]) + jsonl.encode())
