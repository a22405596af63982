"""ResNet-18 and ResNet-50 (He et al. 2016), torchvision layout and module names.

ResNet-50 is torchvision's "v1.5": the stride of a downsampling bottleneck sits on its 3x3 conv.

``quantizable=True`` builds the form eager-mode quantization (``torch.ao.quantization.prepare`` /
``convert``) needs, as torchvision's ``models.quantization`` does: a ``QuantStub`` / ``DeQuantStub``
around the network, each residual sum a ``FloatFunctional.add_relu`` (``skip_add_relu``) so that it
becomes ``quantized::add_relu``, one ReLU module per use (``relu1``, ``relu2``) so that each fuses
with its conv, and ``fuse_model()`` fusing conv + BN (+ ReLU). In float it computes what the plain
model computes.
"""

from __future__ import annotations

import torch
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register


def _downsample(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    """1x1 conv + BN projection shortcut, or ``None`` when the identity already fits."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(in_ch, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, v1.5), 1x1 expand by 4, with a residual connection."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        out = out + identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision ``ResNet``: stem, ``layer1``..``layer4``, global average pool, ``fc``."""

    def __init__(
        self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, int, int, int], num_classes: int = 1000
    ) -> None:
        super().__init__()
        self.in_ch = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1)
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(
        self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int, stride: int
    ) -> nn.Sequential:
        layers = []
        for i in range(blocks):
            layers.append(block(self.in_ch, planes, stride if i == 0 else 1))
            self.in_ch = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class QuantizableBasicBlock(BasicBlock):
    """``BasicBlock`` for eager quantization: ``relu1`` after ``bn1``, the sum and its ReLU one
    ``FloatFunctional.add_relu``."""

    def __init__(self, in_ch: int, planes: int, stride: int = 1) -> None:
        super().__init__(in_ch, planes, stride)
        del self.relu
        self.relu1 = nn.ReLU()
        self.skip_add_relu = torch.ao.nn.quantized.FloatFunctional()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.skip_add_relu.add_relu(out, identity)

    def fusions(self) -> list[list[str]]:
        return [["conv1", "bn1", "relu1"], ["conv2", "bn2"]]


class QuantizableBottleneck(Bottleneck):
    """``Bottleneck`` for eager quantization: ``relu1``/``relu2`` after ``bn1``/``bn2``, the sum and
    its ReLU one ``FloatFunctional.add_relu``."""

    def __init__(self, in_ch: int, planes: int, stride: int = 1) -> None:
        super().__init__(in_ch, planes, stride)
        del self.relu
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.skip_add_relu = torch.ao.nn.quantized.FloatFunctional()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.skip_add_relu.add_relu(out, identity)

    def fusions(self) -> list[list[str]]:
        return [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"], ["conv3", "bn3"]]


class QuantizableResNet(ResNet):
    """``ResNet`` between a ``QuantStub`` and a ``DeQuantStub``, with ``fuse_model()``."""

    def __init__(self, block: type[QuantizableBasicBlock] | type[QuantizableBottleneck], layers: tuple[int, int, int, int],
                 num_classes: int = 1000) -> None:
        super().__init__(block, layers, num_classes)
        self.quant = torch.ao.quantization.QuantStub()
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(super().forward(self.quant(x)))

    def fuse_model(self) -> None:
        """Fuse every conv + BN (+ ReLU), in place, as ``torch.ao.quantization.fuse_modules`` does
        before ``prepare`` (the model must be in eval mode)."""
        fuse = torch.ao.quantization.fuse_modules
        fuse(self, [["conv1", "bn1", "relu"]], inplace=True)
        for module in self.modules():
            if isinstance(module, (QuantizableBasicBlock, QuantizableBottleneck)):
                fuse(module, module.fusions(), inplace=True)
                if module.downsample is not None:
                    fuse(module.downsample, [["0", "1"]], inplace=True)


def resnet18(num_classes: int = 1000, quantizable: bool = False) -> ResNet:
    """Zoo factory: ResNet-18 (BasicBlock, [2, 2, 2, 2])."""
    if quantizable:
        return QuantizableResNet(QuantizableBasicBlock, (2, 2, 2, 2), num_classes)
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet50(num_classes: int = 1000, quantizable: bool = False) -> ResNet:
    """Zoo factory: ResNet-50 v1.5 (Bottleneck, [3, 4, 6, 3])."""
    if quantizable:
        return QuantizableResNet(QuantizableBottleneck, (3, 4, 6, 3), num_classes)
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes)


_NUM_CLASSES = (
    ZooOption("num_classes", int, 1000, "number of output classes"),
    ZooOption("quantizable", bool, False, "the eager-quantization form: stubs, FloatFunctional sums, fuse_model()"),
)

register(ZooEntry(
    name="resnet18",
    factory=resnet18,
    default_input="1x3x224x224",
    description="ResNet-18 (He et al. 2016), torchvision layout; BasicBlock [2, 2, 2, 2]",
    feature_layer="layer4",
    options=_NUM_CLASSES,
))

register(ZooEntry(
    name="resnet50",
    factory=resnet50,
    default_input="1x3x224x224",
    description="ResNet-50 v1.5 (He et al. 2016), torchvision layout; stride on the bottleneck 3x3",
    feature_layer="layer4",
    options=_NUM_CLASSES,
))
