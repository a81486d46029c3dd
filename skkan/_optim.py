"""A lean Adam for the estimators' training loops.

``torch.optim`` imports ``torch._dynamo`` on first use (about 2 s per process here),
which would dominate small fits such as Iris; this implements the same update with a
few ``torch._foreach`` calls and nothing else.
"""

import math

import torch

__all__ = ["Adam"]


class Adam:
    """Adam (Kingma & Ba, 2015) without weight decay or amsgrad.

    Parameters
    ----------
    params : iterable of torch.Tensor
        Parameters to update in place.
    lr : float
        Step size.
    betas : tuple of float, default=(0.9, 0.999)
    eps : float, default=1e-8
    """

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        active = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not active:
            return loss
        params = [self.params[i] for i in active]
        grads = [self.params[i].grad for i in active]
        exp_avg = [self.exp_avg[i] for i in active]
        exp_avg_sq = [self.exp_avg_sq[i] for i in active]
        self.steps += 1
        torch._foreach_lerp_(exp_avg, grads, 1 - self.beta1)
        torch._foreach_mul_(exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - self.beta2)
        bias1 = 1 - self.beta1**self.steps
        bias2 = 1 - self.beta2**self.steps
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, exp_avg, denom, -self.lr / bias1)
        return loss
