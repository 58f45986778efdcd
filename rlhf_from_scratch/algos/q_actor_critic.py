"""Q actor-critic (lecture 002): online, one transition at a time, a Q-function as the critic.

The lecture's pseudocode, written out:

    initialise s, theta (the policy network) and beta (the Q network); sample a ~ pi_theta(.|s)
    for each step:
        r = R(s, a),  s' ~ p(.|s, a)
        actor:   theta <- theta + alpha grad_theta log pi_theta(a|s) Q_beta(s, a)
        critic:  beta  <- beta - lr grad_beta 1/2 (Q_beta(s, a) - (r + gamma max_a' Q_old(s', a')))^2
        s <- s',  a <- a' ~ pi_theta(.|s')

The critic's target is Q-learning's (no bootstrap after a true termination; a time-limit cut
still bootstraps). The actor is weighted by Q(s, a), not by the advantage Q(s, a) - V(s): both
give the policy gradient in expectation, but Q carries no baseline, so its estimate varies more
(notebook 002 measures it); A2C (algos/a2c.py) is the advantage version, over batches.

Unlike the four algorithms of `rlhf train`, this one learns from single transitions rather than
a `Batch`, and handles discrete actions only; it is here because the lecture builds the
actor-critic idea with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlhf_from_scratch.utils.errors import check_positive, check_unit_interval


@dataclass
class QActorCriticConfig:
    actor_lr: float = 0.05  # alpha
    critic_lr: float = 0.1
    gamma: float = 0.99

    def validate(self) -> None:
        check_positive("actor_lr", self.actor_lr)
        check_positive("critic_lr", self.critic_lr)
        check_unit_interval("gamma", self.gamma)


class QActorCritic:
    """actor: obs -> action logits; critic: obs -> Q(s, .) for every action. Plain SGD steps,
    as in the lecture's update rules."""

    def __init__(self, actor: nn.Module, critic: nn.Module, config: QActorCriticConfig):
        config.validate()
        self.actor, self.critic, self.config = actor, critic, config
        self.actor_optimizer = torch.optim.SGD(actor.parameters(), lr=config.actor_lr)
        self.critic_optimizer = torch.optim.SGD(critic.parameters(), lr=config.critic_lr)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> int:
        """a ~ pi_theta(.|s) for one observation."""
        probs = torch.softmax(self.actor(obs), -1)
        return int(torch.multinomial(probs, 1, generator=generator))

    def update(
        self,
        obs: torch.Tensor,
        action: int,
        reward: float,
        next_obs: torch.Tensor,
        terminated: bool,
    ) -> dict[str, float]:
        """One actor step and one critic step on the transition (s, a, r, s')."""
        c = self.config
        q = self.critic(obs)[action]
        # actor: ascend log pi(a|s) Q(s, a), the critic's value held fixed
        logp = torch.log_softmax(self.actor(obs), -1)[action]
        actor_loss = -logp * q.detach()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        # critic: Q-learning's target from the critic as it was before this step
        with torch.no_grad():
            bootstrap = 0.0 if terminated else c.gamma * float(self.critic(next_obs).max())
        target = reward + bootstrap
        critic_loss = 0.5 * (q - target) ** 2
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        q_value = float(q.detach())
        return {"q": q_value, "target": target, "td_error": target - q_value}
