"""Built-in models written here: MobileNet V1/V2, VGG16, ResNet-18/50, ViT, GPT-2, Llama-style."""

from howfast.zoo.registry import ZOO, ZooEntry, ZooOption, build, entries, get, names, parse_options, register

__all__ = ["ZOO", "ZooEntry", "ZooOption", "build", "entries", "get", "names", "parse_options", "register"]
