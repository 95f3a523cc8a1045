"""K pixel-space TD3 learners (``td3_pixels.PixelTD3``) trained together in one process: each its
own conv encoder, heads, targets, Adam moments and noise generator, one batched update for all.

The K encoders run as grouped convolutions (``stacked.stacked_conv``): learner k's images occupy
channel group k of one (B, K * 6, H, W) tensor, so every conv is one call for all learners, and
each group sees only its own learner's images and weights. On the CPU, where one grouped
convolution was slower than K plain ones, each conv is K calls on the channel blocks instead
(``conv_grouped``). The rest is TD3's stacked update
(``td3_seeds.TD3Seeds.td3_step``) on the encoders' features, with the encoders in the critic
optimiser and in Polyak averaging, and the actor reading the features detached, as ``PixelTD3``.
``PixelTD3Seeds(seeds=[s_1, ..., s_K])`` computes what K ``PixelTD3(seed=s_k)`` compute on the same
minibatches, to float rounding (tests/algos/test_td3_pixels_seeds.py); ``learner_state_dict(k)``
is learner k as a ``PixelTD3`` checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from affordkit.algos import common
from affordkit.algos.common import adam
from affordkit.algos.stacked import Stack, stack_buffers, stack_parameters, stacked_conv
from affordkit.algos.td3 import TD3Config
from affordkit.algos.td3_pixels import PixelTD3
from affordkit.algos.td3_seeds import TD3Seeds, TD3SeedView
from affordkit.errors import ConfigError
from affordkit.networks.conv import ImageGoalEncoder
from affordkit.types import Batch


class PixelTD3Seeds(TD3Seeds):
    """``PixelTD3Seeds(obs_dim, action_dim, encoder, TD3Config(), seeds=[0, 1, 2])``: K
    ``PixelTD3`` learners, one update for all; ``encoder()`` as ``PixelTD3``'s, returning an
    ``ImageGoalEncoder``. ``update`` takes a ``Batch`` of (K, B, ...) fields (images flat, uint8 or
    float in [0, 255]) and returns metrics of shape (K,)."""

    NETWORKS = ("encoder", "encoder_target", "actor", "actor_target", "critic", "critic_target")

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        encoder: Callable[[], tuple[nn.Module, int]],
        config: TD3Config | None = None,
        *,
        seeds: Sequence[int],
        device: torch.device | str = "cpu",
    ) -> None:
        def single(o: int, a: int, c: TD3Config, *, seed: int, device: torch.device | str) -> PixelTD3:
            return PixelTD3(o, a, encoder, c, seed=seed, device=device)

        singles = self.adopt(single, obs_dim, action_dim, config or TD3Config(), seeds, device)
        layout = singles[0].encoder
        if not isinstance(layout, ImageGoalEncoder):
            raise ConfigError(
                f"PixelTD3Seeds stacks ImageGoalEncoder encoders; encoder() made a {type(layout).__name__}"
            )
        self.encoder_layout = layout
        self.conv_grouped: bool | None = None
        """The encoders' convs as grouped convolutions (True) or K convolutions (False); None:
        grouped on a GPU, K on the CPU (``stacked.stacked_conv``)."""
        self.actor_layers = singles[0].actor
        self.critic_layers = singles[0].critic
        encoders = [s.encoder for s in singles]
        targets = [s.encoder_target for s in singles]
        self.encoder: Stack = {**stack_parameters(encoders, trainable=True), **stack_buffers(encoders)}
        self.encoder_target: Stack = {**stack_parameters(targets, trainable=False), **stack_buffers(targets)}
        self.actor = stack_parameters([s.actor for s in singles], trainable=True)
        self.critic = stack_parameters([s.critic for s in singles], trainable=True)
        self.actor_target = stack_parameters([s.actor_target for s in singles], trainable=False)
        self.critic_target = stack_parameters([s.critic_target for s in singles], trainable=False)
        self.encoder_parameters = [name for name, _ in layout.named_parameters()]
        c = self.config
        self.actor_optimizer = adam(self.actor.values(), c.actor_lr, c.implementation)
        # the single learner's order: the twin Q heads, then the encoder
        critic_parameters = [*self.critic.values(), *(self.encoder[n] for n in self.encoder_parameters)]
        self.critic_optimizer = adam(critic_parameters, c.critic_lr, c.implementation)

    def features(self, params: Stack, obs: Tensor) -> Tensor:
        """Encoder k applied to learner k's flat images: obs (K, B, obs_dim) -> (K, B, features)."""
        k, b, d = obs.shape
        images = self.encoder_layout.images(obs.transpose(0, 1).reshape(b * k, d))  # (B K, 6, s, s)
        x = images.view(b, k * images.shape[1], *images.shape[2:])
        return stacked_conv(
            self.encoder_layout.conv.net, params, "conv.net.", x, k, self.encoder_layout.training,
            grouped=self.conv_grouped,
        )  # fmt: skip

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """pi_k(enc_k(obs_k)) (K, B, action_dim) for obs (K, B, obs_dim)."""
        self.check_obs(obs)
        return self.policy(self.actor, self.features(self.encoder, obs))

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One critic-and-encoder step of every learner; on every ``policy_delay``-th call an actor
        step and the target updates (as ``PixelTD3.update``, K at once)."""
        self.check_batch(batch)
        self.num_updates += 1
        with torch.no_grad():
            next_features = self.features(self.encoder_target, batch.next_obs)
        features = self.features(self.encoder, batch.obs)
        return self.td3_step(batch, features, next_features)

    def target_pairs(self) -> list[tuple[list[Tensor], list[Tensor]]]:
        """The heads' pairs and the encoders' parameters (not their BatchNorm statistics, as
        ``common.soft_update``)."""
        names = self.encoder_parameters
        encoders = ([self.encoder_target[n] for n in names], [self.encoder[n] for n in names])
        return [*super().target_pairs(), encoders]


class PixelTD3SeedView(TD3SeedView):
    """Learner k of a ``PixelTD3Seeds`` as one ``PixelTD3``: ``act`` and ``state_dict`` as the
    single learner's."""

    stack: PixelTD3Seeds

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """Learner k's deterministic action (B, action_dim), as ``PixelTD3.act``."""
        common.check_obs(obs, self.stack.obs_dim)
        features = self.stack.features(self.own(self.stack.encoder), obs[None])
        return self.stack.policy(self.own(self.stack.actor), features)[0]
