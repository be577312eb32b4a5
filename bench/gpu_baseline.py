#!/usr/bin/env python3
"""Eager PyTorch + HuggingFace baseline of one ELECTRA replaced-token-detection training step.

The reference `electra bench` is compared with on a GPU (bench/gpu_check.sh): the same model
sizes as configs/pretrain/electra-{small,base}.yaml, the same objective (15% masking, Gumbel
sampling in fp32, discriminator weight 50), AdamW and gradient clipping at 1.0, bf16 autocast,
synthetic random tokens (no data loading), HF's SDPA attention. Prints one JSON line.

Needs torch with CUDA and transformers (the GPU machine has both).
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

# Sizes of configs/pretrain/electra-{small,base}.yaml; the generator follows
# model/electra_config.cpp generator_config(): width * fraction, FFN 4x, heads scaled.
MODELS = {
    "small": dict(embedding=128, hidden=256, layers=12, heads=4, ffn=1024, fraction=0.25,
                  lr=5e-4),
    "base": dict(embedding=768, hidden=768, layers=12, heads=12, ffn=3072, fraction=0.33333,
                 lr=2e-4),
}
VOCAB = 30522
SPECIAL = dict(pad=0, unk=1, cls=2, sep=3, mask=4)  # synthetic tokens are drawn above these


def electra_config(hidden, heads, ffn, m, arch):
    return ElectraConfig(vocab_size=VOCAB, embedding_size=m["embedding"], hidden_size=hidden,
                         num_hidden_layers=m["layers"], num_attention_heads=heads,
                         intermediate_size=ffn, hidden_act="gelu", hidden_dropout_prob=0.1,
                         attention_probs_dropout_prob=0.1, max_position_embeddings=512,
                         type_vocab_size=2, layer_norm_eps=1e-12, architectures=[arch])


def build(cls, config):
    # HF's default attention is SDPA where the model supports it; ask for it explicitly and
    # fall back to the default if this transformers version refuses.
    try:
        return cls._from_config(config, attn_implementation="sdpa")
    except (TypeError, ValueError, AttributeError):
        return cls(config)


def make_models(name):
    m = MODELS[name]
    g_hidden = max(1, round(m["hidden"] * m["fraction"]))
    g_heads = max(1, round(m["heads"] * m["fraction"]))
    while g_heads > 1 and g_hidden % g_heads:
        g_heads -= 1
    disc = build(ElectraForPreTraining,
                 electra_config(m["hidden"], m["heads"], m["ffn"], m, "ElectraForPreTraining"))
    gen = build(ElectraForMaskedLM,
                electra_config(g_hidden, g_heads, 4 * g_hidden, m, "ElectraForMaskedLM"))
    # ELECTRA shares the embedding block; the generator's output matrix is the shared table.
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    return gen, disc, m["lr"]


def synthetic_batch(batch, seq, device, gen):
    """[CLS] A [SEP] B [SEP] of random tokens, 15% of the ordinary tokens masked per row."""
    ids = torch.randint(5, VOCAB, (batch, seq), device=device, generator=gen)
    mid = seq // 2
    ids[:, 0] = SPECIAL["cls"]
    ids[:, mid - 1] = SPECIAL["sep"]
    ids[:, -1] = SPECIAL["sep"]
    types = torch.zeros_like(ids)
    types[:, mid:] = 1
    maskable = ids > SPECIAL["mask"]
    k = round(0.15 * int(maskable[0].sum()))
    scores = torch.rand(batch, seq, device=device, generator=gen).masked_fill(~maskable, -1.0)
    pos = scores.topk(k, dim=1).indices  # [batch, k]
    masked = torch.zeros_like(maskable).scatter_(1, pos, True)
    # 85% of the targets become [MASK], 15% keep their token (no random replacement).
    to_mask = masked & (torch.rand(batch, seq, device=device, generator=gen) < 0.85)
    masked_ids = ids.masked_fill(to_mask, SPECIAL["mask"])
    return ids, masked_ids, types, masked


def rtd_loss(gen, disc, ids, masked_ids, types, masked, attn):
    gen_logits = gen(input_ids=masked_ids, attention_mask=attn, token_type_ids=types).logits
    logits = gen_logits[masked]  # [m, vocab]
    labels = ids[masked]         # [m]
    gen_loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    with torch.no_grad():
        # Gumbel-max sampling in fp32, the official code's 1e-9 guards.
        u = torch.rand(logits.shape, device=logits.device, dtype=torch.float32)
        sampled = (logits.float() - torch.log(-torch.log(u + 1e-9) + 1e-9)).argmax(-1)
        fake = ids.clone()
        fake[masked] = sampled
        is_replaced = (fake != ids).float()
    disc_logits = disc(input_ids=fake, attention_mask=attn, token_type_ids=types).logits
    disc_loss = torch.nn.functional.binary_cross_entropy_with_logits(disc_logits.float(),
                                                                     is_replaced)
    return gen_loss + 50.0 * disc_loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="small")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--tf32", action="store_true", help="TF32 tensor cores for fp32 matmuls")
    ap.add_argument("--overlap", action="store_true",
                    help="time windows of 5 steps, synchronised only around each window "
                         "(as `electra bench --overlap`); the step's own waits stay")
    ap.add_argument("--profile", metavar="FILE",
                    help="after the timed steps, a Chrome trace of 3 more (trace_summary.py)")
    args = ap.parse_args()

    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.manual_seed(42)
    gen, disc, lr = make_models(args.model)
    gen.to(device).train()
    disc.to(device).train()
    # Each shared tensor once (the embeddings belong to both models).
    params = list({id(p): p for p in list(disc.parameters()) + list(gen.parameters())}.values())
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
    data_gen = torch.Generator(device=device)
    data_gen.manual_seed(0)
    batches = [synthetic_batch(args.batch, args.seq, device, data_gen) for _ in range(4)]
    attn = torch.ones(args.batch, args.seq, dtype=torch.long, device=device)

    def train_step(step):
        ids, masked_ids, types, masked = batches[step % len(batches)]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss = rtd_loss(gen, disc, ids, masked_ids, types, masked, attn)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    times = []
    torch.cuda.reset_peak_memory_stats(device)
    for step in range(args.warmup):
        train_step(step)
        torch.cuda.synchronize(device)
    # One time per step, or with --overlap one per window of steps (its seconds per step).
    window = 5 if args.overlap else 1
    step = args.warmup
    while step < args.warmup + args.steps:
        n = min(window, args.warmup + args.steps - step)
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for i in range(n):
            loss = train_step(step + i)
        torch.cuda.synchronize(device)
        times.append((time.perf_counter() - t0) / n)
        step += n
    if args.profile:
        acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=acts) as prof:
            for step in range(3):
                train_step(step)
                torch.cuda.synchronize(device)
        prof.export_chrome_trace(args.profile)

    median = statistics.median(times)
    print(json.dumps({
        "baseline": "pytorch-eager-hf",
        "model": args.model,
        "batch": args.batch,
        "seq": args.seq,
        "precision": args.precision,
        "tf32": args.tf32,
        "steps": args.steps,
        "overlap": args.overlap,
        "tokens_per_s": args.batch * args.seq / median,
        "step_ms_median": 1e3 * median,
        "peak_gpu_mem_mb": torch.cuda.max_memory_allocated(device) / 2**20,
        "attention": getattr(disc.config, "_attn_implementation", None),
        "device": torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "last_loss": float(loss),
    }))


if __name__ == "__main__":
    main()
