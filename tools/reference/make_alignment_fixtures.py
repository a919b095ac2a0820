"""Writes the PyTorch reference fixtures of av-alignment (pooling, losses, localization maps).

Pinned environment (torch is a ~3 GB install, never used by CI):
    torch==2.9.1 (the default PyPI wheel, 2.9.1+cu128, run on CPU), numpy==2.2.6, safetensors==0.6.2,
    Python 3.11
Command (from the repository root):
    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch==2.9.1 safetensors==0.6.2 numpy==2.2.6
    /tmp/venv-torch/bin/python tools/reference/make_alignment_fixtures.py
Output: crates/av-alignment/tests/fixtures/alignment.safetensors (float32, C-contiguous).

Every reference value is computed in float64 with torch autograd and stored as float32. Seeds:
torch.manual_seed(0) and one torch.Generator seeded 0 that draws every input in the order below.
Layouts and formulas (docs/reference_implementation.md §2.3, §2.4, §2.6, §3.5, §5.1, §10):

pool.*  class-aware weighted pooling, paper Eq. 5 (MSSL new/stage_two.py:56-63).
    features [N=3,K=6,H=4,W=5], weights [N,C=4,H,W] = relu(randn) with weights[1,2] = 0 exactly.
    sum       [N,C,K] = sum_hw F[n,k] W[n,c] / (sum_hw W[n,c] + 1e-10)            (exact Eq. 5)
    mean_code [N,C,K] = mean_hw(F[n,k] W[n,c]) / (sum_hw W[n,c] + 1e-10)          (MSSL new/ code)
    r [N,C,K] randn; grad_features [N,K,H,W] = d(sum(pool.sum * r))/dF (weights constant).
    Row (n=1, c=2) of sum / mean_code is exactly 0 (0 / 1e-10).
bce.*   nn.BCELoss()(sigmoid(logits), labels), mean over the 5x7 entries (log terms clamped at -100
    by torch; never reached here since |logits| <= 8). loss [1], grad_logits [5,7].
avc.*   balanced AVC loss over all N x N pairs (MSSL new/main.py:25-28): logits [5,5,2] (audio i,
    visual j, class; class 1 = corresponding), target = 1 on the diagonal, 0 off it,
    ce_ij = cross-entropy; loss = mean_{i=j} ce / 2 + mean_{i!=j} ce / 2; grad_logits [5,5,2].
avc_pairs.*  neighbour-negative variant of the original code: pos [5,2], neg [5,2];
    loss = F.cross_entropy(cat([pos, neg]), [1]*5 + [0]*5) (mean over 10 rows); grad_pos, grad_neg.
align.*  Eq. 7 as in MSSL new/main.py:62-71 (docs/reference_implementation.md §2.4). N=4, C=5, D=16, M = N*C, row k = n*C + c.
    xa, xv [N,C,D] raw (xa[1,3] = 0 and xv[2,0] = 0 exactly); logits_a, logits_v [N,C] = 1.5 randn.
    g = F.normalize(x, dim=-1) = x / max(||x||, 1e-12) (a zero vector stays 0);
    S = g_a g_v^T (MxM); D2 = 2 - 2S; eff[k,l] = [sigmoid(la_k) > 0.3] [sigmoid(lv_l) > 0.3];
    pos = I_M; neg = 1 - pos; dist = sqrt(clamp(D2, min=0) + 1e-12);
    pos_term = sum(D2 eff pos) / sum(pos eff + 1e-10)
    neg_term = sum(relu(1.4 - dist)^2 eff neg) / sum(neg eff + 1e-10)
    loss = pos_term + neg_term.  NOTE: the +1e-10 is added element-wise before the sum, exactly as
    the code writes torch.sum(pos*eff+1e-10), i.e. the denominator is count + 1e-10 * M^2. The form
    count + 1e-10 differs by < 4e-8 absolute (M = 20); this script asserts that both forms give the
    same float32 values (to 1 ulp), so either is acceptable in the port.
    Outputs: loss, pos (= pos_term), neg (= neg_term) [1]; grad_xa, grad_xv [N,C,D] = gradient of loss
    w.r.t. the RAW x through F.normalize (eff is a constant); grad_ga, grad_gv [N,C,D] = gradient of
    loss w.r.t. the normalised g (extra keys, to test the loss separately from the normalisation).
    CAUTION (torch semantics of F.normalize at a zero vector): for ||x|| < 1e-12 torch computes
    x / 1e-12 and the clamp blocks the gradient of the norm, so d loss/d x = 1e12 * d loss/d g on that
    row. xa[1,3] is a valid audio row here, so grad_xa[1,3] holds entries of order 1e10-1e11 (finite);
    xv[2,0] is chosen invalid (logits_v[2,0] set to -3), so its row of grad_xv is exactly 0. In the
    real model the projection head's ReLU kills that gradient (its input is 0), so a port may
    instead treat zero rows as constants; compare grad_ga/grad_gv in that case and skip those rows.
align_novalid.*  same shapes, fresh xa/xv (no zero rows), all logits = -5 (eff = 0):
    loss = 0 (0 / (1e-10 M^2)), grad_xa = grad_xv = 0, all finite.
align_dup.*  same formula with xv = xa (fresh randn, no zero rows) and all logits = +3: the
    positives have D2 = 0 up to rounding (the sqrt-at-zero case; the 1e-12 inside the sqrt keeps the
    gradient finite, and D2 is clamped at 0 before the sqrt). Outputs loss, pos, neg, grad_xa, grad_xv.
align_orig.*  the ORIGINAL code's distance and hinge (docs/reference_implementation.md §3.5, model/detector.py:405-431) on the
    all-pairs masks of case 5, same inputs as align.* (xa, xv, logits_a, logits_v copied), NO
    normalisation: d[k,l] = mean_D (xa_k - xv_l)^2;
    loss = sum(d eff pos) / sum(pos eff + 1e-10) + sum(relu(2 - d) eff neg) / sum(neg eff + 1e-10)
    (margin 2, hinge not squared); outputs loss, pos, neg [1], grad_xa, grad_xv.
loc.*   localization maps (Eq. 8 as MSSL new/ does it, docs/reference_implementation.md §2.6 / 5.1). C=5, D=16, h=w=4.
    xa [C,D] raw per-class audio embeddings, xv [D,h,w] raw visual projected features, logits [C]
    (logits[3] = -2 so that the single-sigmoid valid set excludes a class).
    g_a = normalize over D per class; g_v = normalize over D per position;
    maps_small [C,h,w] = relu(<g_a[c], g_v[:,y,x]>);
    maps [C,16,16] = F.interpolate(maps_small[None], (16,16), mode='bilinear', align_corners=False)[0];
    class-agnostic map: L = sum_{c in V} p_c maps[c] / sum_{c in V} p_c, then L / max(L):
    agnostic_single [16,16]: p = sigmoid(logits),          V = {c: p_c > 0.3} u {argmax p};
    agnostic_double [16,16]: p = sigmoid(sigmoid(logits)), V = {c: p_c > 0.3} u {argmax p} (= all).
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "av-alignment", "tests", "fixtures")
torch.set_num_threads(2)
DT = torch.float64


def f32(t):
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    return np.ascontiguousarray(a.astype(np.float32))


def scalar(t):
    return f32(t.reshape(1))


# ---- 1. class-aware weighted pooling ----------------------------------------------------------
def case_pool(gen):
    feats = torch.randn(3, 6, 4, 5, generator=gen, dtype=DT)
    weights = torch.relu(torch.randn(3, 4, 4, 5, generator=gen, dtype=DT))
    weights[1, 2] = 0.0
    r = torch.randn(3, 4, 6, generator=gen, dtype=DT)
    f = feats.clone().requires_grad_(True)
    num = torch.einsum("nkhw,nchw->nck", f, weights)                     # sum_hw F W
    den = weights.sum(dim=(2, 3)).unsqueeze(-1) + 1e-10                  # [N,C,1]
    pooled = num / den
    mean_code = (f.unsqueeze(2) * weights.unsqueeze(1)).flatten(3).mean(-1)   # [N,K,C] as the code
    mean_code = mean_code.permute(0, 2, 1) / den
    (g,) = torch.autograd.grad((pooled * r).sum(), f)
    assert torch.all(pooled[1, 2] == 0) and torch.all(mean_code[1, 2] == 0)
    assert torch.allclose(mean_code * 20, pooled)
    return {"pool.features": f32(feats), "pool.weights": f32(weights), "pool.sum": f32(pooled),
            "pool.mean_code": f32(mean_code), "pool.r": f32(r), "pool.grad_features": f32(g)}


# ---- 2. BCE on sigmoid -------------------------------------------------------------------------
def case_bce(gen):
    logits = (torch.randn(5, 7, generator=gen, dtype=DT) * 3).clamp(-8, 8)
    labels = torch.rand(5, 7, generator=gen, dtype=DT)
    labels[0, 0] = 0.0
    labels[1, 3] = 1.0
    labels[2, 6] = 0.0
    labels[4, 2] = 1.0
    lg = logits.clone().requires_grad_(True)
    loss = torch.nn.BCELoss()(torch.sigmoid(lg), labels)
    (g,) = torch.autograd.grad(loss, lg)
    return {"bce.logits": f32(logits), "bce.labels": f32(labels), "bce.loss": scalar(loss),
            "bce.grad_logits": f32(g)}


# ---- 3. balanced AVC loss over all pairs (MSSL new/) ------------------------------------------
def case_avc(gen):
    logits = torch.randn(5, 5, 2, generator=gen, dtype=DT)
    lg = logits.clone().requires_grad_(True)
    gt = torch.eye(5, dtype=torch.long).view(-1)
    ce = F.cross_entropy(lg.view(-1, 2), gt, reduction="none")
    loss = ce[gt == 1].mean() / 2 + ce[gt == 0].mean() / 2
    (g,) = torch.autograd.grad(loss, lg)
    return {"avc.logits": f32(logits), "avc.loss": scalar(loss), "avc.grad_logits": f32(g)}


# ---- 4. AVC with one neighbour negative per sample (original code) ----------------------------
def case_avc_pairs(gen):
    pos = torch.randn(5, 2, generator=gen, dtype=DT)
    neg = torch.randn(5, 2, generator=gen, dtype=DT)
    p = pos.clone().requires_grad_(True)
    n = neg.clone().requires_grad_(True)
    target = torch.tensor([1] * 5 + [0] * 5)
    loss = F.cross_entropy(torch.cat([p, n]), target)
    gp, gn = torch.autograd.grad(loss, (p, n))
    return {"avc_pairs.pos": f32(pos), "avc_pairs.neg": f32(neg), "avc_pairs.loss": scalar(loss),
            "avc_pairs.grad_pos": f32(gp), "avc_pairs.grad_neg": f32(gn)}


# ---- 5-8. contrastive alignment loss ----------------------------------------------------------
def masks(logits_a, logits_v):
    va = (torch.sigmoid(logits_a).reshape(-1) > 0.3).to(DT)
    vv = (torch.sigmoid(logits_v).reshape(-1) > 0.3).to(DT)
    eff = va[:, None] * vv[None, :]
    pos = torch.eye(eff.shape[0], dtype=DT)
    return eff, pos, 1 - pos


def align_terms(ga, gv, eff, pos, neg, elementwise=True):
    """MSSL new/main.py:62-71 on normalised (N,C,D) embeddings."""
    d = ga.shape[-1]
    s = ga.reshape(-1, d) @ gv.reshape(-1, d).T
    d2 = 2 - 2 * s
    dist = torch.sqrt(torch.clamp(d2, min=0) + 1e-12)
    if elementwise:
        den_p, den_n = (pos * eff + 1e-10).sum(), (neg * eff + 1e-10).sum()
    else:
        den_p, den_n = (pos * eff).sum() + 1e-10, (neg * eff).sum() + 1e-10
    pt = (d2 * eff * pos).sum() / den_p
    nt = (torch.relu(1.4 - dist) ** 2 * eff * neg).sum() / den_n
    return pt, nt


def align_case(prefix, xa, xv, la, lv, with_pos_neg=True):
    eff, pos, neg = masks(la, lv)
    a = xa.clone().requires_grad_(True)
    v = xv.clone().requires_grad_(True)
    ga, gv = F.normalize(a, dim=-1), F.normalize(v, dim=-1)
    ga.retain_grad()
    gv.retain_grad()
    pt, nt = align_terms(ga, gv, eff, pos, neg)
    loss = pt + nt
    loss.backward()
    # the brief's "count + 1e-10" denominator form gives the same float32 numbers
    pt2, nt2 = align_terms(ga.detach(), gv.detach(), eff, pos, neg, elementwise=False)
    for x1, x2 in ((pt, pt2), (nt, nt2)):
        a1, a2 = np.float32(x1.item()), np.float32(x2.item())
        assert abs(a1 - a2) <= np.spacing(max(abs(a1), abs(a2), np.float32(1e-30))), (prefix, a1, a2)
    for t in (loss, a.grad, v.grad):
        assert torch.isfinite(t).all(), prefix
    out = {f"{prefix}.xa": f32(xa), f"{prefix}.xv": f32(xv), f"{prefix}.logits_a": f32(la),
           f"{prefix}.logits_v": f32(lv), f"{prefix}.loss": scalar(loss),
           f"{prefix}.grad_xa": f32(a.grad), f"{prefix}.grad_xv": f32(v.grad),
           f"{prefix}.grad_ga": f32(ga.grad), f"{prefix}.grad_gv": f32(gv.grad)}
    if with_pos_neg:
        out[f"{prefix}.pos"] = scalar(pt)
        out[f"{prefix}.neg"] = scalar(nt)
    return out, eff


def case_align(gen):
    xa = torch.randn(4, 5, 16, generator=gen, dtype=DT)
    xv = torch.randn(4, 5, 16, generator=gen, dtype=DT)
    la = torch.randn(4, 5, generator=gen, dtype=DT) * 1.5
    lv = torch.randn(4, 5, generator=gen, dtype=DT) * 1.5
    xa[1, 3] = 0.0
    xv[2, 0] = 0.0
    la[1, 3] = abs(la[1, 3]) + 0.5   # the zero audio row is valid (docs/reference_implementation.md §10.21 degenerate case) ...
    lv[2, 0] = -3.0                  # ... the zero visual row is not (its grad_xv row is exactly 0)
    out, eff = align_case("align", xa, xv, la, lv)
    va = torch.sigmoid(la).reshape(-1) > 0.3
    vv = torch.sigmoid(lv).reshape(-1) > 0.3
    assert 0 < int(va.sum()) < 20 and 0 < int(vv.sum()) < 20 and (va & vv).any()
    assert np.all(out["align.grad_xv"][2, 0] == 0)
    assert eff[8, 8] == 1, "the zero audio row's positive pair (k = 1*5+3) must be valid"
    ga, gv = F.normalize(xa, dim=-1).reshape(20, 16), F.normalize(xv, dim=-1).reshape(20, 16)
    dist = torch.sqrt(torch.clamp(2 - 2 * ga @ gv.T, min=0) + 1e-12)
    assert ((dist < 1.4) * eff * (1 - torch.eye(20, dtype=DT))).sum() >= 3, "hinge (almost) never active"
    print(f"align: {int(va.sum())} valid audio rows, {int(vv.sum())} valid visual rows, "
          f"{int((eff * torch.eye(20, dtype=DT)).sum())} valid positives, "
          f"max |grad_xa[1,3]| = {np.abs(out['align.grad_xa'][1, 3]).max():.3e}")

    # 8. original-code distance (mean squared difference, no normalisation) and margin-2 hinge
    eff, pos, neg = masks(la, lv)
    a = xa.clone().requires_grad_(True)
    v = xv.clone().requires_grad_(True)
    d = ((a.reshape(-1, 1, 16) - v.reshape(1, -1, 16)) ** 2).mean(-1)
    pt = (d * eff * pos).sum() / (pos * eff + 1e-10).sum()
    nt = (torch.relu(2 - d) * eff * neg).sum() / (neg * eff + 1e-10).sum()
    loss = pt + nt
    loss.backward()
    assert ((torch.relu(2 - d) * eff * neg) > 0).any(), "hinge never active"
    out.update({"align_orig.xa": f32(xa), "align_orig.xv": f32(xv), "align_orig.logits_a": f32(la),
                "align_orig.logits_v": f32(lv), "align_orig.loss": scalar(loss),
                "align_orig.pos": scalar(pt), "align_orig.neg": scalar(nt),
                "align_orig.grad_xa": f32(a.grad), "align_orig.grad_xv": f32(v.grad)})
    return out


def case_align_novalid(gen):
    xa = torch.randn(4, 5, 16, generator=gen, dtype=DT)
    xv = torch.randn(4, 5, 16, generator=gen, dtype=DT)
    la = torch.full((4, 5), -5.0, dtype=DT)
    lv = torch.full((4, 5), -5.0, dtype=DT)
    out, _ = align_case("align_novalid", xa, xv, la, lv, with_pos_neg=False)
    assert out["align_novalid.loss"][0] == 0
    assert not out["align_novalid.grad_xa"].any() and not out["align_novalid.grad_xv"].any()
    return out


def case_align_dup(gen):
    xa = torch.randn(4, 5, 16, generator=gen, dtype=DT)
    la = torch.full((4, 5), 3.0, dtype=DT)
    out, _ = align_case("align_dup", xa, xa.clone(), la, la.clone())
    print(f"align_dup: pos = {out['align_dup.pos'][0]:.3e} (D2 on the diagonal ~ 0), "
          f"neg = {out['align_dup.neg'][0]:.6f}")
    return out


# ---- 9. localization maps ---------------------------------------------------------------------
def agnostic(maps, p):
    valid = p > 0.3
    valid[torch.argmax(p)] = True
    m = (maps[valid] * p[valid][:, None, None]).sum(0) / p[valid].sum()
    return m / m.max(), valid


def case_loc(gen):
    xa = torch.randn(5, 16, generator=gen, dtype=DT)
    xv = torch.randn(16, 4, 4, generator=gen, dtype=DT)
    logits = torch.randn(5, generator=gen, dtype=DT)
    logits[3] = -2.0
    ga = F.normalize(xa, dim=1)
    gv = F.normalize(xv, dim=0)
    small = torch.relu(torch.einsum("cd,dyx->cyx", ga, gv))
    maps = F.interpolate(small[None], size=(16, 16), mode="bilinear", align_corners=False)[0]
    single, vs = agnostic(maps, torch.sigmoid(logits))
    double, vd = agnostic(maps, torch.sigmoid(torch.sigmoid(logits)))
    assert not vs.all() and vd.all(), (vs, vd)
    print(f"loc: single-sigmoid valid set {vs.int().tolist()}, double {vd.int().tolist()}")
    return {"loc.xa": f32(xa), "loc.xv": f32(xv), "loc.logits": f32(logits),
            "loc.maps_small": f32(small), "loc.maps": f32(maps),
            "loc.agnostic_single": f32(single), "loc.agnostic_double": f32(double)}


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for case in (case_pool, case_bce, case_avc, case_avc_pairs, case_align, case_align_novalid,
                 case_align_dup, case_loc):
        tensors.update(case(gen))
    for k, v in tensors.items():
        assert v.dtype == np.float32 and v.flags["C_CONTIGUOUS"] and np.isfinite(v).all(), k
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "alignment.safetensors")
    # one metadata key: safetensors writes metadata in hash-map order, so several keys would make
    # the file bytes differ from run to run
    save_file(tensors, path, metadata={"generator": "tools/reference/make_alignment_fixtures.py, "
                                                    f"torch {torch.__version__}"})
    back = load_file(path)
    assert back.keys() == tensors.keys() and all(np.array_equal(back[k], tensors[k]) for k in back)
    print(f"alignment: {len(back)} tensors, {os.path.getsize(path) / 1024:.0f} KiB")
    for k in sorted(back):
        v = back[k]
        print(f"  {k:28s} {str(list(v.shape)):14s} {np.array2string(v.ravel()[:3], precision=5)}")


if __name__ == "__main__":
    main()
