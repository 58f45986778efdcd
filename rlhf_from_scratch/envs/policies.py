"""Actor-critics for Gymnasium: MLP (categorical or diagonal Gaussian) and the Nature CNN.

    discrete actions:    pi(a|s) = Categorical(softmax(logits_theta(s)))
    continuous actions:  pi(a|s) = N(mu_theta(s), diag(sigma^2)), log sigma a free parameter
                         (state-independent, initialised to 0); log-probs summed over dims
    value:               V_phi(s), a separate network or a head on a shared trunk

Orthogonal initialisation as in the 37 details of PPO: gain sqrt(2) for hidden layers, 0.01 for
the policy head (near-uniform first policy), 1.0 for the value head, biases 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.utils.errors import ConfigError, check

# Argument validation in torch.distributions costs more than the tiny networks themselves.
Distribution.set_default_validate_args(False)

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(in_dim: int, hidden: tuple[int, ...], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [layer_init(nn.Linear(in_dim, size)), ACTIVATIONS[activation]()]
        in_dim = size
    return nn.Sequential(*layers)


def scaled_frames(obs: torch.Tensor) -> torch.Tensor:
    """uint8 frames [B, C, H, W] -> floats in [0, 1], stored channels-last, the memory order
    in which the CPU's convolutions run these small filter banks faster (the same sums; PPO on
    Pong 1.3x faster on one thread: benchmarks/atari/channels_last). The bytes are reordered
    before they become floats (bit for bit the same; within a whole pass of the reward CNN no
    faster or slower than converting and reordering in one step: benchmarks/atari/cpu_overheads).
    A copy: a caller's float frames are never scaled in place."""
    ordered = obs.contiguous(memory_format=torch.channels_last)
    return ordered.to(torch.float32, copy=True).div_(255.0)


class NatureCNN(nn.Module):
    """Mnih et al. 2015: 3 conv layers + 512 units; uint8 frames are divided by 255 here
    (`scaled_frames`: the weights and frames channels-last)."""

    def __init__(self, in_channels: int, out_dim: int = 512):
        super().__init__()
        self.net = nn.Sequential(
            layer_init(nn.Conv2d(in_channels, 32, 8, stride=4)),
            nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)),
            nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)),
            nn.ReLU(),
            nn.Flatten(),
            layer_init(nn.Linear(64 * 7 * 7, out_dim)),
            nn.ReLU(),
        ).to(memory_format=torch.channels_last)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(scaled_frames(obs))


def is_image(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


class ActorCritic(nn.Module):
    """pi_theta and V_phi behind the algorithms' `Policy` interface (see algos/batch.py)."""

    def __init__(
        self,
        obs_space: gym.Space,
        action_space: gym.Space,
        hidden: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        shared: bool = False,
        log_std_init: float = 0.0,
    ):
        super().__init__()
        check(activation in ACTIVATIONS, f"activation must be one of {sorted(ACTIVATIONS)}")
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if not self.discrete and not isinstance(action_space, gym.spaces.Box):
            raise ConfigError(
                f"action space {action_space} is not supported: use Discrete or Box actions"
            )
        self.shared = shared
        if is_image(obs_space):
            make_trunk = lambda: NatureCNN(obs_space.shape[0])  # noqa: E731
            feat = 512
        else:
            check(len(obs_space.shape) == 1, f"observations of shape {obs_space.shape}: need 1-D")
            make_trunk = lambda: mlp(obs_space.shape[0], hidden, activation)  # noqa: E731
            feat = hidden[-1] if hidden else obs_space.shape[0]
        self.actor_trunk = make_trunk()
        self.critic_trunk = None if shared else make_trunk()
        n_out = action_space.n if self.discrete else action_space.shape[0]
        self.actor_head = layer_init(nn.Linear(feat, n_out), gain=0.01)
        self.critic_head = layer_init(nn.Linear(feat, 1), gain=1.0)
        if not self.discrete:
            self.log_std = nn.Parameter(torch.full((n_out,), float(log_std_init)))
            # NumPy bounds for env_action; the buffers stay for the checkpoints' state dicts
            self.register_buffer("action_low", torch.as_tensor(action_space.low))
            self.register_buffer("action_high", torch.as_tensor(action_space.high))
            self.bounds = (action_space.low, action_space.high)
        self.image, self.activation = is_image(obs_space), activation

    # ---- the policy interface ----------------------------------------------------------
    def distribution(self, batch: Batch) -> Distribution:
        return self.dist(batch.obs)

    def value(self, batch: Batch) -> torch.Tensor:
        return self.value_obs(batch.obs)

    def policy_parameters(self) -> list[nn.Parameter]:
        params = list(self.actor_trunk.parameters()) + list(self.actor_head.parameters())
        return params + ([] if self.discrete else [self.log_std])

    def value_parameters(self) -> list[nn.Parameter]:
        trunk = [] if self.shared else list(self.critic_trunk.parameters())
        return trunk + list(self.critic_head.parameters())

    # ---- on observations -----------------------------------------------------------------
    def _dist_from_features(self, features: torch.Tensor) -> Distribution:
        out = self.actor_head(features)
        if self.discrete:
            return Categorical(logits=out)
        return Independent(Normal(out, self.log_std.exp().expand_as(out)), 1)

    def dist(self, obs: torch.Tensor) -> Distribution:
        return self._dist_from_features(self.actor_trunk(obs))

    def value_obs(self, obs: torch.Tensor) -> torch.Tensor:
        trunk = self.actor_trunk if self.shared else self.critic_trunk
        return self.critic_head(trunk(obs)).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """An action for each observation, without gradients (one call per env step)."""
        out = self.actor_head(self.actor_trunk(obs))
        if self.discrete:
            return out.argmax(-1) if deterministic else Categorical(logits=out).sample()
        if deterministic:
            return out
        # mean + std * noise: the law of Normal(mean, std).sample() without building the
        # distribution objects, which cost more than the small MLP at one call per env step
        return out + self.log_std.exp() * torch.randn_like(out)

    @torch.no_grad()
    def score(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log pi(a|s), V(s)) for a whole rollout at once, after it was collected."""
        return self.dist(obs).log_prob(actions), self.value_obs(obs)

    def env_action(self, action: torch.Tensor | np.ndarray) -> np.ndarray:
        """What the env receives: the stored (unclipped) action, clipped to the bounds if Box."""
        if isinstance(action, torch.Tensor):
            action = action.cpu().numpy()
        if self.discrete:
            return action
        low, high = self.bounds  # (np.clip's checks cost more than its arithmetic here)
        clipped = np.maximum(action, low)
        return np.minimum(clipped, high, out=clipped)

    def sampler(self, n_steps: int, num_envs: int) -> Callable[[int, np.ndarray], np.ndarray]:
        """sample(t, obs) -> actions for step t of the next rollout (NumPy in, NumPy out).

        An MLP policy on the CPU samples from a NumPy copy of itself (`NumpyActor`); a CNN,
        or any policy on a GPU, samples with torch.
        """
        if self.image or self.actor_head.weight.device.type != "cpu":
            return self.torch_sampler
        return NumpyActor(self, n_steps, num_envs)

    def torch_sampler(self, t: int, obs: np.ndarray) -> np.ndarray:
        """sample(t, obs) with torch: float observations as float32, frames left as uint8."""
        x = torch.as_tensor(obs, device=self.actor_head.weight.device)
        return self.act(x.float() if x.is_floating_point() else x).cpu().numpy()


class NumpyActor:
    """pi_theta's sampler for one rollout, on a NumPy copy of the actor's layers.

    At one observation per env step, a call of the torch MLP costs 65-110 us of dispatch for
    about 1 us of arithmetic; the same layers in NumPy cost about 8 us (measured on Hopper's
    64-64 network, benchmarks/throughput). The weights are copied when the rollout starts (the
    policy does not change while collecting) and the noise of all its steps is drawn at once
    from torch's generator, so seeding and checkpoints stay as they were. log pi(a|s) and V(s)
    are computed afterwards by the torch policy, in one batched call (`ActorCritic.score`).

        Gaussian:     a = mu(s) + sigma * z,          z ~ N(0, I)
        categorical:  a = argmax_k(logits_k(s) + g_k), g = -log(-log U), U ~ Uniform(0, 1)
                      (the Gumbel-max trick: P[a = k] = softmax(logits)_k)
    """

    def __init__(self, policy: ActorCritic, n_steps: int, num_envs: int):
        linears = [m for m in policy.actor_trunk if isinstance(m, nn.Linear)]
        linears.append(policy.actor_head)
        self.layers = [
            (m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears
        ]
        self.activation = {"tanh": np.tanh, "relu": _relu}[policy.activation]
        self.discrete = policy.discrete
        n_out = self.layers[-1][1].shape[0]
        if self.discrete:
            u = torch.rand(n_steps, num_envs, n_out).clamp(min=1e-20)
            self.noise = (-(-u.log()).log()).numpy()
        else:
            z = torch.randn(n_steps, num_envs, n_out).numpy()
            self.noise = z * policy.log_std.detach().exp().numpy()

    def __call__(self, t: int, obs: np.ndarray) -> np.ndarray:
        x = obs.astype(np.float32, copy=False)
        for weight, bias in self.layers[:-1]:
            x = self.activation(x @ weight + bias)
        weight, bias = self.layers[-1]
        out = x @ weight + bias + self.noise[t]
        return out.argmax(-1) if self.discrete else out


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)
