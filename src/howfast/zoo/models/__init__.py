"""Zoo model families; importing a module registers its entries with :mod:`howfast.zoo.registry`."""

import howfast.zoo.models.bert  # noqa: F401  (BERT-base encoder)
import howfast.zoo.models.convnext  # noqa: F401  (ConvNeXt-T)
import howfast.zoo.models.densenet  # noqa: F401  (DenseNet-121)
import howfast.zoo.models.efficientnet  # noqa: F401  (EfficientNet-B0)
import howfast.zoo.models.mobilenetv3  # noqa: F401  (MobileNetV3-Large and -Small)
import howfast.zoo.models.resnext  # noqa: F401  (ResNeXt-50 32x4d)
import howfast.zoo.models.shufflenet  # noqa: F401  (ShuffleNet V2 1.0x)
import howfast.zoo.models.squeezenet  # noqa: F401  (SqueezeNet 1.1)
import howfast.zoo.models.swin  # noqa: F401  (Swin-T)
from howfast.zoo.models import gpt, mobilenet, moe, resnet, vgg, vit

__all__ = ["gpt", "mobilenet", "moe", "resnet", "vgg", "vit"]
