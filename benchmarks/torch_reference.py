"""The official MIX-KD training step in PyTorch, timed (the speed reference).

What the official code (MIX-KD on RepDistiller) runs for one batch, written
for this benchmark: partial mixup (PMU) drawn with numpy (Beta(1, 1) weights,
``B * partmixup`` indices drawn with replacement kept clean, two
permutations), the teacher in ``eval()`` under ``torch.no_grad()``, the
student in ``train()``, ``MIXSTDLoss`` (logits divided by their unbiased std;
``0.1 * CE`` on the mixed labels ``+ 0.9 * KL``), ``loss.item()`` and the
accuracy as the official loop logs them, and ``torch.optim.SGD`` (momentum
0.9, weight decay 5e-4). The networks are RepDistiller's CIFAR ResNets
(``resnet32x4`` teacher, ``resnet8x4`` student), the same architectures as
``keras_mixkd.models``.

It is timed as an outside check does: 2 intra-op and 2 inter-op threads,
one fixed in-memory batch of 64, the median of 15 steps after 3 warm-up
steps; ``--precision=bfloat16`` wraps the whole step (forward, backward,
optimizer) in ``torch.autocast``. On a machine with CUDA it runs there.

Needs PyTorch (``pip install keras_mixkd[bench]``); nothing in
``keras_mixkd`` imports it. ``benchmarks/run_all.py`` runs it next to
``distill_throughput.py``::

    python benchmarks/torch_reference.py [--precision=bfloat16] [--json]
"""

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import harness  # noqa: E402

#: RepDistiller's CIFAR ResNets: (depth, stage widths).
ARCHITECTURES = {"resnet8x4": (8, (32, 64, 128, 256)),
                 "resnet32x4": (32, (32, 64, 128, 256))}


class BasicBlock(nn.Module):
    """RepDistiller's post-activation basic block."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    """RepDistiller's CIFAR ResNet (``resnet8x4``, ``resnet32x4``...)."""

    def __init__(self, depth, widths, num_classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, inplanes = [], widths[0]
        for i, planes in enumerate(widths[1:]):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(inplanes, planes,
                                         2 if (i and not j) else 1))
                inplanes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out",
                                        nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def mixstd_loss(logit_s, logit_t, y_mix, gamma=0.1, alpha=0.9):
    """The official MIXSTD loss: CE and KL on std-scaled logits."""
    s = logit_s / logit_s.std(dim=1, keepdim=True)
    t = logit_t / logit_t.std(dim=1, keepdim=True)
    log_p_s = F.log_softmax(s, dim=1)
    ce = -(y_mix * log_p_s).sum(dim=1).mean()
    kl = F.kl_div(log_p_s, F.softmax(t, dim=1), reduction="batchmean")
    return gamma * ce + alpha * kl


def pmu(x, y, num_classes, rng, partmixup=0.9, beta_a=1.0):
    """Partial mixup with numpy, as the official code draws it."""
    b = x.shape[0]
    lam = rng.beta(beta_a, beta_a, size=b)
    lam[rng.randint(0, b, size=int(b * partmixup))] = 1.0
    p1, p2 = rng.permutation(b), rng.permutation(b)
    lam = torch.from_numpy(lam).float().to(x.device)
    p1, p2 = torch.from_numpy(p1).to(x.device), torch.from_numpy(p2).to(
        x.device)
    onehot = F.one_hot(y, num_classes).float()
    x_mix = lam.view(-1, 1, 1, 1) * x[p1] + (1 - lam.view(-1, 1, 1, 1)) * x[p2]
    y_mix = lam.view(-1, 1) * onehot[p1] + (1 - lam.view(-1, 1)) * onehot[p2]
    return x_mix, y_mix


def make_step(args, device):
    """The official step on one fixed batch; returns ``step()``."""
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)
    teacher = ResNet(*ARCHITECTURES[args.teacher], args.num_classes).to(
        device).eval()
    student = ResNet(*ARCHITECTURES[args.student], args.num_classes).to(
        device).train()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.05, momentum=0.9,
                                weight_decay=5e-4)
    x = torch.randn(args.batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, args.num_classes, (args.batch_size,), device=device)
    autocast = args.precision == "bfloat16"

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=autocast):
            x_mix, y_mix = pmu(x, y, args.num_classes, rng)
            logit_s = student(x_mix)
            with torch.no_grad():
                logit_t = teacher(x_mix)
            loss = mixstd_loss(logit_s.float(), logit_t.float(), y_mix)
            (logit_s.argmax(1) == y_mix.argmax(1)).float().mean().item()
            loss_value = loss.item()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return loss_value

    return step


def run(args):
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    step = make_step(args, device)
    losses = [step() for _ in range(args.warmup)]
    seconds = []
    for _ in range(args.steps):
        start = time.perf_counter()
        losses.append(step())
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    env = harness.environment(with_tensorflow=False)
    env["torch"] = torch.__version__
    return {
        "benchmark": "torch_reference",
        "precision": args.precision,
        "step_img_per_s": round(args.batch_size / median, 2),
        "step_seconds": [round(s, 5) for s in seconds],
        "losses": [round(v, 5) for v in losses],
        "device": (torch.cuda.get_device_name() if device.type == "cuda"
                   else env["device"]),
        "environment": env,
        "options": vars(args),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "bfloat16"])
    parser.add_argument("--teacher", default="resnet32x4",
                        choices=sorted(ARCHITECTURES))
    parser.add_argument("--student", default="resnet8x4",
                        choices=sorted(ARCHITECTURES))
    parser.add_argument("--num_classes", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2,
                        help="intra-op and inter-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    harness.emit(result, args.json, [
        f"PyTorch {torch.__version__} official step, {args.teacher} -> "
        f"{args.student}, batch {args.batch_size}, {args.precision}, on "
        f"{result['device']}: {result['step_img_per_s']:.1f} img/s "
        f"(median of {args.steps} steps)"])


if __name__ == "__main__":
    main()
