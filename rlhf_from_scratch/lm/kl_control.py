"""The KL coefficient beta of RLHF's reward r = r_theta - beta r_KL: fixed, or adapted.

Lectures: ../shared/seeds/001 ("KL-divergence to avoid reward hacking", naive RL fine-tuning
vs KL-control) and 004 (r = r_theta - lambda r_KL). The policy is rewarded by the reward
model but pays beta nats of reward per nat it moves away from the SFT model:

    r_KL(x, y) = sum_t [ log pi(y_t | x, y_<t) - log pi_SFT(y_t | x, y_<t) ]

Adaptive control (Ziegler et al. 2019, section 2.2) steers the measured KL toward a target:

    err   = clip( KL / KL_target - 1, -0.2, 0.2 )
    beta <- beta * (1 + err * n_steps / horizon)

with n_steps the responses in the batch; beta grows when the policy drifts too far and
shrinks when it stays too close. beta = 0 switches the penalty off ("naive RL fine-tuning"):
the policy then over-optimises the reward model (reward hacking).
"""

from __future__ import annotations

from dataclasses import dataclass

from rlhf_from_scratch.utils.errors import check


@dataclass
class KLController:
    """beta, and (when `target` is set) Ziegler et al.'s proportional controller for it."""

    beta: float
    target: float | None = None  # None: a fixed beta
    horizon: int = 10000

    def __post_init__(self) -> None:
        check(
            self.beta >= 0,
            f"the KL coefficient beta must be >= 0, got {self.beta}; use 0 for no penalty",
        )
        check(
            self.target is None or self.target > 0,
            f"--kl-target must be > 0 (nats per response), got {self.target}; leave it out "
            "for a fixed beta",
        )
        check(self.horizon > 0, f"--kl-horizon must be > 0, got {self.horizon}")

    def update(self, kl: float, n_steps: int) -> float:
        """One controller step after a batch of n_steps responses with mean KL `kl`."""
        if self.target is not None:
            err = min(max(kl / self.target - 1.0, -0.2), 0.2)
            self.beta *= 1.0 + err * n_steps / self.horizon
        return self.beta

    def state_dict(self) -> dict:
        return {"beta": self.beta, "target": self.target, "horizon": self.horizon}

    def load_state_dict(self, state: dict) -> None:
        self.beta, self.target, self.horizon = state["beta"], state["target"], state["horizon"]
