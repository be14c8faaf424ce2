#!/usr/bin/env python3
"""Writes tests/fixtures/hub/: small Hugging-Face-Hub-style timm repos that a local test server
serves under the Hub's URL layout (`/<org>/<name>/resolve/main/<file>`), a photo, and what timm
computes for each repo on it; plus a training checkpoint (one SGD step) as researchers have it.

Run by hand, never by CI, in the golden venv (torch, timm and torchvision pinned):

    python3 -m venv .venv-golden && .venv-golden/bin/pip install -r tools/requirements.txt
    .venv-golden/bin/python tools/make_golden_hub.py

The plain install works (on Linux PyPI's torch 2.15.0 wheel pulls about 4 GB of nvidia-* / CUDA
packages; the venv is 5.5 GB). `pip install --no-deps torch` does not: that wheel preloads
libcudart / libcublasLt at `import torch` and fails without them, and the CPU-only wheels are not
on PyPI. It needs ../shared/samples/ (cat.jpg, astronaut.jpg, rocket.jpg) beside the checkout.

Each repo is tests/fixtures/hub/<org>/<name>/ with what timm's `push_to_hf_hub` uploads, written by
the same code (`timm.models._hub.save_for_hf` and `generate_readme`): config.json (architecture,
num_classes, num_features, global_pool, label_names where given, model_args, pretrained_cfg),
model.safetensors and README.md (the model card); push_to_hf_hub's pytorch_model.bin, the same
state dict, is left out (safe_serialization=True). The networks are the small variants
of tools/make_golden_nets.py (reduced widths and depths), with its random weights and calibration
(`randomise`: BatchNorm statistics measured and then moved off, attention gates spread out,
logits of RMS 2), calibrated on the photo and three more images through the repo's own transform.
Every repo has its own, non-default, pretrained_cfg, so that a test proves each checkpoint's own
preprocessing is applied:

  timm/mobilenetv3_small_100.tiny_test  5 classes with label_names; 96 px, crop_pct 0.875, center,
                                        bicubic, ImageNet mean / std
  timm/seresnet50.tiny_test             7 classes with label_names (one non-ASCII); 112 px, 0.95,
                                        squash, bilinear, mean 0.5 / std 0.5
  timm/ecaresnet26t.tiny_test           4 classes, no label_names; 128 px, 1.0, border, bicubic,
                                        OpenAI CLIP mean / std
  timm/resnet18.one_logit_test          1 class (a binary classifier, read through a sigmoid);
                                        96 px, 0.875, center, bilinear, ImageNet mean / std

The MobileNetV3 repo cannot be rebuilt by `timm.create_model` from its config.json: its small width
needs channel_multiplier and num_features, which the mobilenetv3_small_100 entrypoint fixes (it
passes channel_multiplier=1.0 positionally and num_features=1024 itself, so giving them again is a
TypeError). Its model_args say what built it ({"channel_multiplier": 0.125, "depth_multiplier":
0.5, "num_features": 64, ...}) and `create_from_config` below calls timm's own generator with them.
The ResNets are built by `timm.create_model`, which records their layers / channels / stem_width as
model_args, and `timm.create_model("local-dir:<repo>", pretrained=True)` loads them back as is.

tests/fixtures/hub/photo.png      200 x 150 RGB: ../shared/samples/cat.jpg (CC0), its centre 4:3
                                  (400 x 300) downscaled with Lanczos; PNG so every decoder agrees.
tests/fixtures/hub/expected.json  per repo id: `logits` (float32 values), `top` ([index, probability]
                                  of the 5 or fewer most probable classes: softmax, or the sigmoid of
                                  the one logit of a 1-class head), `transform` (what
                                  timm.data.resolve_data_config gives), `input_mean` (per channel
                                  mean of the transformed tensor), `input_size_resized` ([H, W] after
                                  the resize, before the crop / pad), `crop` (the file below),
                                  `input_checksum` (sha256 of the uint8 RGB crop, H x W x 3 bytes);
                                  computed by loading the saved repo back as a user would
                                  (architecture + model_args, model.safetensors strict, the
                                  data config from resolve_data_config({}, model=model) with
                                  model.pretrained_cfg from config.json; for the ResNets also
                                  timm.create_model("local-dir:...", pretrained=True), which must
                                  agree exactly), the photo opened with PIL .convert("RGB") and
                                  transformed by timm.data.create_transform(**cfg), eval mode,
                                  float32.
tests/fixtures/hub/crops/<name>.png   the uint8 image each transform feeds to ToTensor (after the
                                  resize and the crop / pad, before scaling and normalising).
tests/fixtures/hub/train_step/    the seresnet50 repo after one SGD step in train mode on a random
                                  batch (every BatchNorm's num_batches_tracked 1, running stats
                                  moved): model.pth (torch.save(model.state_dict())), nested.pth
                                  (torch.save({"epoch": 1, "state_dict": ..., "optimizer":
                                  opt.state_dict()})), config.json (the seresnet50 repo's),
                                  input.safetensors (`x`, float32 (1, 3, 112, 112), seeded) and
                                  expected.json (eval-mode logits on x and on the photo through the
                                  repo's transform).

    .venv-golden/bin/python tools/make_golden_hub.py --real /tmp/hub-real

instead lists real pretrained timm checkpoints of the families the engine runs
(/tmp/hub-real/pretrained.json) and writes a randomly initialised real-sized model.safetensors
(with its config.json) for one architecture of each family under /tmp/hub-real/<arch>/; nothing
of it goes into the fixtures.
"""

import argparse
import copy
import hashlib
import json
import math
import shutil
import sys
import zlib
from pathlib import Path

import safetensors.torch
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from safetensors.torch import load_file, save_file
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from timm.models._hub import generate_readme, save_for_hf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_golden_nets import randomise, timm_mobilenetv3  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "tests" / "fixtures" / "hub"
SAMPLES = ROOT.parent / "shared" / "samples"
SEED = 20261207


# ----------------------------------------------------------------------------------------------
# Building a model, and building it again from a config.json.

def small_mobilenetv3(arch, num_classes, channel_multiplier, depth_multiplier, num_features, **kwargs):
    """The small MobileNetV3 of make_golden_nets.timm_mobilenetv3 (its head width set on the way
    into _create_mnv3), with this repo's class count."""
    model, _ = timm_mobilenetv3(arch, channel_multiplier, depth_multiplier, num_features, num_classes=num_classes, **kwargs)
    return model


def create_from_config(config: dict) -> nn.Module:
    """The model a config.json describes: timm.create_model(architecture, **model_args), except for
    a MobileNetV3 whose model_args carry a channel_multiplier (see the docstring)."""
    arch = config["architecture"]
    args = dict(config.get("model_args", {}))
    if arch.startswith("mobilenetv3_") and "channel_multiplier" in args:
        args.pop("in_chans", None)  # recorded by save_for_hf; 3, the generator's default
        return small_mobilenetv3(arch, **args)
    return timm.create_model(arch, pretrained=False, **args)


IMAGENET = dict(mean=list(IMAGENET_DEFAULT_MEAN), std=list(IMAGENET_DEFAULT_STD))

# repo id, how to build it, extra model_args for save_for_hf, label_names, the pretrained_cfg
# fields that differ from the architecture's default cfg.
REPOS = [
    ("timm/mobilenetv3_small_100.tiny_test",
     lambda: small_mobilenetv3("mobilenetv3_small_100", 5, 0.125, 0.5, 64),
     {"channel_multiplier": 0.125, "depth_multiplier": 0.5, "num_features": 64},
     ["tabby", "fire engine", "rocket", "astronaut", "teapot"],
     dict(input_size=[3, 96, 96], crop_pct=0.875, crop_mode="center", interpolation="bicubic",
          pool_size=[3, 3], **IMAGENET)),
    ("timm/seresnet50.tiny_test",
     lambda: timm.create_model("seresnet50", pretrained=False, num_classes=7, layers=(1, 2, 1, 1),
                               channels=(4, 8, 16, 32)),
     None,
     ["tabby cat", "golden retriever", "space shuttle", "crème brûlée", "pickup truck", "lighthouse", "teapot"],
     dict(input_size=[3, 112, 112], test_input_size=[3, 128, 128], crop_pct=0.95, test_crop_pct=1.0,
          crop_mode="squash", interpolation="bilinear", mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
          pool_size=[4, 4])),
    ("timm/ecaresnet26t.tiny_test",
     lambda: timm.create_model("ecaresnet26t", pretrained=False, num_classes=4, layers=(1, 1, 1, 1),
                               channels=(4, 8, 16, 32), stem_width=8),
     None,
     None,
     dict(input_size=[3, 128, 128], test_input_size=[3, 160, 160], crop_pct=1.0, test_crop_pct=0.95,
          crop_mode="border", interpolation="bicubic", mean=list(OPENAI_CLIP_MEAN), std=list(OPENAI_CLIP_STD),
          pool_size=[4, 4])),
    ("timm/resnet18.one_logit_test",
     lambda: timm.create_model("resnet18", pretrained=False, num_classes=1, channels=(4, 8, 16, 32)),
     None,
     None,
     dict(input_size=[3, 96, 96], test_input_size=[3, 128, 128], crop_pct=0.875, test_crop_pct=1.0,
          crop_mode="center", interpolation="bilinear", pool_size=[3, 3], **IMAGENET)),
]


def own_pretrained_cfg(model, repo_id, fields, num_classes):
    """The architecture's default pretrained_cfg with the repo's tag, source and transform."""
    arch, tag = repo_id.split("/")[1].split(".", 1)
    cfg = {k: v for k, v in model.pretrained_cfg.items()
           if k not in ("url", "origin_url", "paper_ids", "paper_name", "notes", "test_input_size", "test_crop_pct")}
    cfg.update(architecture=arch, tag=tag, hf_hub_id=repo_id, num_classes=num_classes, **fields)
    return cfg


# ----------------------------------------------------------------------------------------------
# The photo and the transforms.

def photo_from(path: Path, size=(200, 150)) -> Image.Image:
    """The image's centre at the aspect ratio of `size`, downscaled to `size` (Lanczos)."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    aspect = size[0] / size[1]
    if w / h > aspect:
        cw, ch = round(h * aspect), h
    else:
        cw, ch = w, round(w / aspect)
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch)).resize(size, Image.LANCZOS)


def make_transform(cfg):
    return timm.data.create_transform(**cfg, is_training=False)


def crop_of(transform, img):
    """The uint8 image the transform feeds to ToTensor, and the size after its resize."""
    steps = transform.transforms
    assert type(steps[-2]).__name__ == "MaybeToTensor" and isinstance(steps[-1], T.Normalize), steps
    resized = steps[0](img)
    pil = T.Compose(steps[:-2])(img)
    return pil, [resized.size[1], resized.size[0]]


def top_of(logits: torch.Tensor, k=5):
    if logits.numel() == 1:
        return [[0, torch.sigmoid(logits.double())[0].item()]]
    p = torch.softmax(logits.double(), dim=0)
    values, indices = p.topk(min(k, p.numel()))
    return [[i, v] for i, v in zip(indices.tolist(), values.tolist())]


def floats(t: torch.Tensor):
    """float32 values as JSON numbers (Python's shortest repr of each float32 value, exact)."""
    return [float(v) for v in t.float().flatten().tolist()]


def json_ready(value):
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


# ----------------------------------------------------------------------------------------------
# The repos.

def write_repo(entry, photo, calibration_images):
    repo_id, build, extra_args, label_names, fields = entry
    torch.manual_seed(SEED + zlib.crc32(repo_id.encode()))
    model = build()
    cfg = own_pretrained_cfg(model, repo_id, fields, model.num_classes)
    model.pretrained_cfg = cfg
    model.default_cfg = cfg
    transform = make_transform(timm.data.resolve_data_config({}, model=model))
    c, h, w = cfg["input_size"]
    # The calibration batch: the photo, its mirror image and two more photos through the repo's own
    # transform, and two Gaussian images.
    x_cal = torch.stack([transform(photo), transform(photo.transpose(Image.FLIP_LEFT_RIGHT))]
                        + [transform(img) for img in calibration_images] + [torch.randn(c, h, w) for _ in range(2)])
    randomise(model, x_cal)
    model = model.float().eval()

    folder = HUB / repo_id
    folder.mkdir(parents=True)
    model_config = {"label_names": label_names} if label_names else None
    # What push_to_hf_hub writes to its temporary folder before it uploads it.
    # push_to_hf_hub's default also writes pytorch_model.bin (the same state dict); the page opens
    # model.safetensors, so the fixtures keep that alone.
    save_for_hf(model, folder, model_config=model_config, model_args=extra_args, safe_serialization=True)
    (folder / "README.md").write_text(generate_readme(
        {"description": "A tiny, randomly initialised test fixture of the attention-playground project "
                        "(tools/make_golden_hub.py), not a trained model."},
        repo_id.split("/")[-1]), encoding="utf-8")
    return load_back(repo_id, photo)


def load_back(repo_id, photo):
    """The repo as a user loads it: the model from config.json, the weights strict, the data config
    from the config's pretrained_cfg; its logits on the photo."""
    folder = HUB / repo_id
    config = json.loads((folder / "config.json").read_text())
    model = create_from_config(config)
    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    model.pretrained_cfg = config["pretrained_cfg"]
    model.eval()
    data_cfg = timm.data.resolve_data_config({}, model=model)
    transform = make_transform(data_cfg)
    x = transform(photo.convert("RGB"))
    with torch.no_grad():
        logits = model(x[None].float())[0]
    crop, resized = crop_of(transform, photo)
    assert torch.equal(T.Normalize(data_cfg["mean"], data_cfg["std"])(T.functional.to_tensor(crop)), x)

    if not config["architecture"].startswith("mobilenetv3_"):
        # timm's own loader for a local Hub-style folder: the same model_args, weights and transform.
        user = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        user_cfg = timm.data.resolve_data_config({}, model=user)
        assert json_ready(user_cfg) == json_ready(data_cfg), (user_cfg, data_cfg)
        with torch.no_grad():
            user_logits = user(make_transform(user_cfg)(photo)[None])[0]
        assert torch.equal(user_logits, logits), (user_logits, logits)

    with torch.no_grad():  # how far float32 is from float64 here, for the tests' tolerance
        logits64 = copy.deepcopy(model).double()(x[None].double())[0]
    crop_file = HUB / "crops" / f"{repo_id.split('/')[-1]}.png"
    crop_file.parent.mkdir(exist_ok=True)
    crop.save(crop_file)
    labels = config.get("label_names")
    top = top_of(logits)
    print(f"  {repo_id}: {sum(t.numel() for t in model.state_dict().values())} numbers, transform {data_cfg}, "
          f"resized {resized}, logits {floats(logits)[:4]}..., f32 - f64 {(logits.double() - logits64).abs().max():.2e}, "
          f"top {[(labels[i] if labels else i, round(p, 3)) for i, p in top]}")
    return model, transform, {
        "logits": floats(logits),
        "top": top,
        "transform": json_ready(data_cfg),
        "input_mean": [x[ch].double().mean().item() for ch in range(3)],
        "input_size_resized": resized,
        "crop": f"crops/{crop_file.name}",
        "input_checksum": hashlib.sha256(crop.tobytes()).hexdigest(),
    }


def write_train_step(repo_id, photo):
    """The seresnet50 repo after one SGD step in train mode (see the docstring)."""
    folder = HUB / "train_step"
    folder.mkdir()
    config = json.loads((HUB / repo_id / "config.json").read_text())
    shutil.copy(HUB / repo_id / "config.json", folder / "config.json")
    model = create_from_config(config)
    model.load_state_dict(load_file(str(HUB / repo_id / "model.safetensors")), strict=True)
    before = copy.deepcopy(model.state_dict())
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.num_batches_tracked.zero_()  # as a fresh run's first step: tracked becomes 1
    torch.manual_seed(SEED + 1)
    c, h, w = config["pretrained_cfg"]["input_size"]
    xb, yb = torch.randn(4, c, h, w), torch.randint(0, config["num_classes"], (4,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    model.train()
    loss = F.cross_entropy(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()
    state = model.state_dict()
    for k, v in state.items():
        if k.endswith("num_batches_tracked"):
            assert v.item() == 1, k
        else:  # every parameter (SGD with weight decay) and every running statistic moved
            assert not torch.equal(v, before[k]), f"{k} did not move"
    torch.save(state, folder / "model.pth")
    torch.save({"epoch": 1, "state_dict": state, "optimizer": opt.state_dict()}, folder / "nested.pth")

    x = torch.randn(1, c, h, w, generator=torch.Generator().manual_seed(SEED + 2))
    save_file({"x": x.contiguous()}, str(folder / "input.safetensors"))
    model.pretrained_cfg = config["pretrained_cfg"]  # the seresnet50 repo's transform
    data_cfg = timm.data.resolve_data_config({}, model=model)
    xp = make_transform(data_cfg)(photo)
    with torch.no_grad():
        logits_x = model(x)[0]
        logits_p = model(xp[None])[0]

    # Read back: both files, strict, give the same logits.
    nested = torch.load(folder / "nested.pth", weights_only=True)
    assert nested["epoch"] == 1 and "momentum_buffer" in next(iter(nested["optimizer"]["state"].values()))
    for sd in (torch.load(folder / "model.pth", weights_only=True), nested["state_dict"]):
        m = create_from_config(config)
        m.load_state_dict(sd, strict=True)
        m.eval()
        with torch.no_grad():
            assert torch.equal(m(x)[0], logits_x) and torch.equal(m(xp[None])[0], logits_p)

    labels = config.get("label_names")
    print(f"  train_step: loss {loss.item():.3f}, logits on x {floats(logits_x)[:3]}..., photo top "
          f"{[(labels[i], round(p, 3)) for i, p in top_of(logits_p)]}")
    expected = {
        "architecture": config["architecture"],
        "num_classes": config["num_classes"],
        "input": {"file": "input.safetensors", "logits": floats(logits_x)},
        "photo": {"file": "../photo.png", "logits": floats(logits_p), "top": top_of(logits_p),
                  "transform": json_ready(data_cfg),
                  "input_mean": [xp[ch].double().mean().item() for ch in range(3)]},
        "checkpoints": {
            "model.pth": "torch.save(model.state_dict()) after the step",
            "nested.pth": "torch.save({'epoch': 1, 'state_dict': model.state_dict(), "
                          "'optimizer': SGD(lr=0.05, momentum=0.9, weight_decay=1e-4).state_dict()})",
        },
        "step": {"loss": loss.item(), "batch": list(xb.shape), "labels": yb.tolist()},
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


README = """# Hub fixtures

Small Hugging-Face-Hub-style timm repos and what timm computes for them, written by
`tools/make_golden_hub.py` (its docstring says how; run by hand in the golden venv):

    .venv-golden/bin/python tools/make_golden_hub.py

- `timm/<name>/`: one repo each, as `timm.models.push_to_hf_hub` uploads it (`save_for_hf`, plus
  the model card): `config.json`, `model.safetensors`, `README.md` (push_to_hf_hub's
  `pytorch_model.bin`, the same state dict, is left out: the page opens safetensors from the Hub). A test server serves them under the Hub's
  layout, `/<org>/<name>/resolve/main/<file>`. Random, calibrated weights of small variants; each
  repo has its own pretrained_cfg (input size, crop_pct, crop_mode, interpolation, mean, std):
  - `mobilenetv3_small_100.tiny_test`: 5 classes with label_names, 96 px center bicubic, ImageNet
    statistics. Its model_args (channel_multiplier, num_features) cannot go through
    `timm.create_model`; the script builds it with timm's MobileNetV3 generator.
  - `seresnet50.tiny_test`: 7 classes with label_names (one non-ASCII, escaped by json.dump),
    112 px squash bilinear, mean / std 0.5.
  - `ecaresnet26t.tiny_test`: 4 classes, no label_names, 128 px border bicubic, OpenAI CLIP statistics.
  - `resnet18.one_logit_test`: 1 class (a binary classifier: sigmoid), 96 px center bilinear.
- `photo.png`: 200 x 150 RGB, from ../shared/samples/cat.jpg (chelsea.png of scikit-image, CC0).
- `expected.json`: per repo id, timm's float32 `logits` on the photo, the `top` classes
  ([index, probability]; softmax, or the sigmoid of a single logit), the `transform`
  (`timm.data.resolve_data_config`), the transformed tensor's per-channel `input_mean`, the size
  after the resize (`input_size_resized`, [H, W]), and the `crop` with its `input_checksum`
  (sha256 of its H x W x 3 uint8 RGB bytes).
- `crops/<name>.png`: the uint8 image each repo's transform turns into the tensor (after the resize
  and the crop / pad, before scaling and normalising).
- `train_step/`: the seresnet50 repo after one SGD step in train mode (num_batches_tracked 1):
  `model.pth` (a state dict), `nested.pth` ({"epoch", "state_dict", "optimizer"}), the repo's
  `config.json`, `input.safetensors` (`x`, (1, 3, 112, 112)) and `expected.json` (eval-mode logits
  on `x` and on the photo through the repo's transform).
"""


def write_fixtures():
    if HUB.exists():
        shutil.rmtree(HUB)
    HUB.mkdir(parents=True)
    photo = photo_from(SAMPLES / "cat.jpg")
    photo.save(HUB / "photo.png")
    photo = Image.open(HUB / "photo.png").convert("RGB")  # as the tests read it
    others = [Image.open(SAMPLES / name).convert("RGB") for name in ("astronaut.jpg", "rocket.jpg")]
    expected = {}
    for entry in REPOS:
        _, _, record = write_repo(entry, photo, others)
        expected[entry[0]] = record
    (HUB / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    write_train_step("timm/seresnet50.tiny_test", photo)
    (HUB / "README.md").write_text(README)
    for f in HUB.rglob("*"):  # safetensors writes its files 0600
        if f.is_file():
            f.chmod(0o644)
    total = sum(f.stat().st_size for f in HUB.rglob("*") if f.is_file())
    print(f"wrote {HUB}: {total / 1e6:.2f} MB (torch {torch.__version__}, timm {timm.__version__})")


# ----------------------------------------------------------------------------------------------
# Real pretrained checkpoints (--real): not fixtures.

REAL_CANDIDATES = [
    "mobilenetv3_large_100.ra_in1k", "mobilenetv3_small_100.lamb_in1k", "efficientnet_b0.ra_in1k",
    "tf_efficientnet_b0.ns_jft_in1k", "efficientnet_b1.ft_in1k", "seresnet50.a1_in1k",
    "seresnext26d_32x4d.bt_in1k", "seresnext50_32x4d.racm_in1k", "ecaresnet50d.miil_in1k",
    "ecaresnet26t.ra2_in1k", "ecaresnet50t.ra2_in1k", "gcresnet50t.ra2_in1k", "regnety_016.tv2_in1k",
    "regnety_008.pycls_in1k", "regnety_032.ra_in1k", "resnet50d.ra2_in1k",
]
# Similar ones from timm.list_pretrained(): the ECA / SE / GC ResNets, RegNetY, MobileNetV3,
# EfficientNet B0-B3.
REAL_PATTERNS = ["ecaresnet*", "seresnet*", "seresnext*", "gcresnet*", "regnety_*", "mobilenetv3_*",
                 "efficientnet_b[0-3]*", "tf_efficientnet_b[0-3]*"]
REAL_SIZED = ["mobilenetv3_large_100", "efficientnet_b0", "seresnext26d_32x4d", "ecaresnet26t", "gcresnet50t",
              "regnety_016"]


def safetensors_bytes(shapes):
    """The exact size of the safetensors file of float32 tensors of these shapes: 8 bytes of header
    length, the JSON header (tensors in name order, as safetensors lays out same-dtype tensors,
    padded with spaces to a multiple of 8) and the data."""
    offset, parts = 0, []
    for name in sorted(shapes):
        n = math.prod(shapes[name]) * 4
        parts.append(json.dumps(name) + ":" + json.dumps(
            {"dtype": "F32", "shape": list(shapes[name]), "data_offsets": [offset, offset + n]}, separators=(",", ":")))
        offset += n
    header = len(("{" + ",".join(parts) + "}").encode())
    return 8 + header + (-header) % 8 + offset


def write_real(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    pretrained = set(timm.list_pretrained())
    names = list(REAL_CANDIDATES)
    for pattern in REAL_PATTERNS:
        names += [n for n in timm.list_pretrained(pattern) if n not in names]
    check = {"x": torch.zeros(3, 5), "a.b": torch.zeros(7), "conv.weight": torch.zeros(2, 3, 1, 1)}
    assert len(safetensors.torch.save(check)) == safetensors_bytes({k: list(v.shape) for k, v in check.items()})
    entries = []
    for name in names:
        if name not in pretrained:
            print(f"  {name}: not in timm.list_pretrained()")
            continue
        arch, tag = name.split(".", 1)
        cfg = timm.models.get_pretrained_cfg(name).to_dict()
        if not cfg.get("hf_hub_id"):
            print(f"  {name}: no hf_hub_id, left out")
            continue
        # The checkpoint's own head (1000, 11821 for in12k, 0 for SEER's features), on the meta
        # device: shapes without memory.
        with torch.device("meta"):
            model = timm.create_model(arch, pretrained=False, num_classes=cfg.get("num_classes", 1000))
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        entry = {
            "id": cfg["hf_hub_id"], "arch": arch, "tag": tag,
            "bytes": safetensors_bytes({k: list(v.shape) for k, v in state.items()}),
            "input_size": cfg.get("input_size"), "crop_pct": cfg.get("crop_pct"), "crop_mode": cfg.get("crop_mode"),
            "interpolation": cfg.get("interpolation"), "mean": cfg.get("mean"), "std": cfg.get("std"),
            "test_input_size": cfg.get("test_input_size"), "test_crop_pct": cfg.get("test_crop_pct"),
            "num_classes": cfg.get("num_classes"),
            "params": sum(p.numel() for p in model.parameters()),
            "numel": sum(v.numel() for v in state.values()),  # parameters + buffers, num_batches_tracked left out
            "license": cfg.get("license"),
            "gated": False,  # not checkable offline: timm/ repos of these in1k weights are public, ungated
            "in_brief": name in REAL_CANDIDATES,
            "timm_class": f"{type(model).__module__}.{type(model).__name__}",
            "modules": sorted({type(m).__name__ for m in model.modules()}),
        }
        entries.append(json_ready(entry))
        print(f"  {name}: {entry['bytes'] / 1e6:.1f} MB {entry['input_size']} {entry['crop_pct']} {entry['crop_mode']} "
              f"{entry['interpolation']} classes {entry['num_classes']} {entry['timm_class']}")
    (out / "pretrained.json").write_text(json.dumps(entries, indent=1) + "\n")
    print(f"wrote {len(entries)} checkpoints to {out / 'pretrained.json'}")
    # One real-sized, randomly initialised network of each family, as save_for_hf writes it.
    for arch in REAL_SIZED:
        torch.manual_seed(SEED)
        model = timm.create_model(arch, pretrained=False).eval()
        save_for_hf(model, out / arch, safe_serialization=True)
        (out / arch / "model.safetensors").chmod(0o644)
        size = (out / arch / "model.safetensors").stat().st_size
        print(f"  {out / arch / 'model.safetensors'}: {size} bytes, {len(model.state_dict())} tensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, help="list real pretrained checkpoints into this folder instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.real:
        write_real(args.real)
    else:
        write_fixtures()


if __name__ == "__main__":
    main()
