"""Network building blocks: conv encoders and decoders, MLPs, the Gaussian policy, twin critics."""

from affordkit.networks.conv import (
    RIG_48,
    RIG_84,
    SUPPORTED_IMAGE_SIZES,
    BroadcastDecoder,
    ConvArch,
    ConvDecoder,
    ConvEncoder,
    ConvLayer,
    FullBroadcastDecoder,
    KeypointEncoder,
    SpriteDecoder,
    default_sprite_size,
    he_init,
    place,
    rig_arch,
    to_float_images,
    to_uint8_images,
)
from affordkit.networks.mlp import TwinQ, mlp
from affordkit.networks.policies import GaussianPolicy

__all__ = [
    "RIG_48",
    "RIG_84",
    "SUPPORTED_IMAGE_SIZES",
    "BroadcastDecoder",
    "FullBroadcastDecoder",
    "ConvArch",
    "ConvDecoder",
    "ConvEncoder",
    "KeypointEncoder",
    "SpriteDecoder",
    "default_sprite_size",
    "place",
    "ConvLayer",
    "GaussianPolicy",
    "TwinQ",
    "he_init",
    "mlp",
    "rig_arch",
    "to_float_images",
    "to_uint8_images",
]
