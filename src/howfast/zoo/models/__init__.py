"""Zoo model families; importing a module registers its entries with :mod:`howfast.zoo.registry`."""

from howfast.zoo.models import gpt, mobilenet, moe, resnet, vgg, vit

__all__ = ["gpt", "mobilenet", "moe", "resnet", "vgg", "vit"]
