"""A lean Adam for the estimators' training loops.

``torch.optim`` imports ``torch._dynamo`` on first use (about 2 s per process here),
which would dominate small fits such as Iris; this implements the same update with a
few ``torch._foreach`` calls and nothing else.
"""

import math

import torch

__all__ = ["Adam", "LBFGS", "make_optimizer"]


def make_optimizer(solver, params, learning_rate_init, lr_drops=1):
    """The optimizer of ``solver`` (``"adam"`` or ``"lbfgs"``) for ``params``."""
    params = [p for p in params if p.requires_grad]
    if solver == "lbfgs":
        return LBFGS(params, lr=1.0, history_size=20, max_eval=25)
    return Adam(params, lr=learning_rate_init, lr_drops=lr_drops)


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
    lr_drops : int, default=0
        Plateaus on which :meth:`on_plateau` divides the step by 5 (as the adaptive
        schedule of scikit-learn's MLP does) before it lets training stop.
    """

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8, lr_drops=0):
        self.params = [p for p in params if p.requires_grad]
        self.lr = lr
        self.lr_drops_left = lr_drops
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def on_plateau(self):
        """Training stopped improving: lower the step and return False, or return True to stop."""
        if self.lr_drops_left > 0:
            self.lr_drops_left -= 1
            self.lr /= 5.0
            return False
        return True

    def state(self):
        """Moments, step count and step size as numpy (to resume in a later ``partial_fit``)."""
        return {
            "lr": self.lr,
            "lr_drops_left": self.lr_drops_left,
            "steps": self.steps,
            "exp_avg": [m.detach().cpu().numpy().copy() for m in self.exp_avg],
            "exp_avg_sq": [v.detach().cpu().numpy().copy() for v in self.exp_avg_sq],
        }

    def load_state(self, state):
        """Resume from :meth:`state` (the parameters must have the same shapes)."""
        shapes = [tuple(p.shape) for p in self.params]
        if [tuple(m.shape) for m in state["exp_avg"]] != shapes:
            return False
        self.lr, self.lr_drops_left, self.steps = state["lr"], state["lr_drops_left"], state["steps"]
        as_param = lambda a, p: torch.as_tensor(a, dtype=p.dtype, device=p.device).clone()  # noqa: E731
        self.exp_avg = [as_param(m, p) for m, p in zip(state["exp_avg"], self.params)]
        self.exp_avg_sq = [as_param(v, p) for v, p in zip(state["exp_avg_sq"], self.params)]
        return True

    @torch.no_grad()
    def step(self, closure=None):
        """One update; ``closure`` (re-evaluating the loss and its gradients) is optional."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
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


def _cubic_minimum(x1, f1, g1, x2, f2, g2, low, high):
    """Minimiser of the cubic through two points with slopes, clamped to [low, high]."""
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square >= 0:
        d2 = math.sqrt(square)
        if x1 <= x2:
            t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        if math.isfinite(t):
            return min(max(t, low), high)
    return 0.5 * (low + high)


class LBFGS:
    """L-BFGS with a strong-Wolfe line search, one iteration per :meth:`step`.

    The same algorithm as ``torch.optim.LBFGS(max_iter=1, line_search_fn=
    "strong_wolfe")`` (Nocedal & Wright, algorithms 7.4, 3.5 and 3.6) without importing
    ``torch.optim``, and without re-evaluating the objective at the start of a step
    when the previous step's line search already did so at the same point.

    Parameters
    ----------
    params : iterable of torch.Tensor
    lr : float, default=1.0
        Initial step of every line search (the first iteration scales it by
        ``1 / |g|_1``, capped at 1).
    history_size : int, default=20
    max_eval : int, default=25
        Objective evaluations allowed per line search.
    """

    def __init__(self, params, lr=1.0, history_size=20, max_eval=25, c1=1e-4, c2=0.9):
        self.params = [p for p in params if p.requires_grad]
        self.lr = lr
        self.history_size = history_size
        self.max_eval = max_eval
        self.c1, self.c2 = c1, c2
        self.history = []  # (s, y, 1 / y.s), oldest first
        self._current = None  # (loss, flat gradient) at the current parameters
        self._iterations = 0

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def on_plateau(self):
        """L-BFGS has no step schedule: a plateau ends training."""
        return True

    def _flat_gradient(self):
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self.params])

    def _flat_params(self):
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    @torch.no_grad()
    def _assign(self, flat):
        offset = 0
        for p in self.params:
            n = p.numel()
            p.copy_(flat[offset : offset + n].view_as(p))
            offset += n

    def _evaluate(self, closure):
        with torch.enable_grad():
            loss = closure()
        return float(loss.detach()), self._flat_gradient().detach().clone()

    def _direction(self, gradient):
        """Two-loop recursion: -H gradient with the stored curvature pairs."""
        q = -gradient
        alphas = []
        for s, y, rho in reversed(self.history):
            alpha = rho * torch.dot(s, q)
            q = q - alpha * y
            alphas.append(alpha)
        if self.history:
            s, y, _ = self.history[-1]
            q = q * (torch.dot(s, y) / torch.dot(y, y))
        for (s, y, rho), alpha in zip(self.history, reversed(alphas)):
            beta = rho * torch.dot(y, q)
            q = q + (alpha - beta) * s
        return q

    @torch.no_grad()
    def step(self, closure):
        """One L-BFGS iteration; returns the loss at the parameters it started from."""
        if self._current is None:
            self._current = self._evaluate(closure)
        loss, gradient = self._current
        if not math.isfinite(loss):
            return torch.tensor(loss, dtype=torch.float64)
        direction = self._direction(gradient)
        slope = float(torch.dot(gradient, direction))
        if not slope < 0:  # not a descent direction: restart from steepest descent
            self.history.clear()
            direction, slope = -gradient, -float(torch.dot(gradient, gradient))
            if not slope < 0:
                return torch.tensor(loss, dtype=torch.float64)
        first = self._iterations == 0
        step = min(1.0, 1.0 / float(gradient.abs().sum())) * self.lr if first else self.lr
        start = self._flat_params()

        def phi(t):
            self._assign(start + t * direction)
            value, grad = self._evaluate(closure)
            return value, grad, float(torch.dot(grad, direction))

        t, value, new_gradient = self._line_search(phi, step, loss, slope)
        self._iterations += 1
        if t == 0.0:
            self._assign(start)
            self._current = (loss, gradient)
            return torch.tensor(loss, dtype=torch.float64)
        self._assign(start + t * direction)
        s = t * direction
        y = new_gradient - gradient
        ys = float(torch.dot(y, s))
        if ys > 1e-10:
            self.history.append((s, y, 1.0 / ys))
            if len(self.history) > self.history_size:
                self.history.pop(0)
        self._current = (value, new_gradient)
        return torch.tensor(loss, dtype=torch.float64)

    def _line_search(self, phi, t, f0, slope0):
        """Strong-Wolfe line search; returns (t, f(t), gradient(t)) or t = 0 on failure."""
        c1, c2 = self.c1, self.c2
        best = (0.0, f0, None)
        t_prev, f_prev, slope_prev, g_prev = 0.0, f0, slope0, None
        evals = 0
        bracket = None
        while evals < self.max_eval:
            f, g, slope = phi(t)
            evals += 1
            if math.isfinite(f) and f < best[1]:
                best = (t, f, g)
            if not math.isfinite(f) or f > f0 + c1 * t * slope0 or (evals > 1 and f >= f_prev):
                bracket = ((t_prev, f_prev, slope_prev, g_prev), (t, f, slope, g))
                break
            if abs(slope) <= -c2 * slope0:
                return t, f, g
            if slope >= 0:
                bracket = ((t, f, slope, g), (t_prev, f_prev, slope_prev, g_prev))
                break
            t_next = _cubic_minimum(t_prev, f_prev, slope_prev, t, f, slope, t + 0.01 * (t - t_prev), 10 * t)
            t_prev, f_prev, slope_prev, g_prev = t, f, slope, g
            t = t_next
        if bracket is not None:
            low, high = bracket
            while evals < self.max_eval and abs(high[0] - low[0]) * max(abs(slope0), 1e-300) > 1e-12 * max(abs(f0), 1e-300):
                a, b = sorted((low[0], high[0]))
                width = b - a
                if math.isfinite(high[1]):
                    t = _cubic_minimum(low[0], low[1], low[2], high[0], high[1], high[2], a + 0.1 * width, b - 0.1 * width)
                else:
                    t = 0.5 * (a + b)
                f, g, slope = phi(t)
                evals += 1
                if math.isfinite(f) and f < best[1]:
                    best = (t, f, g)
                if not math.isfinite(f) or f > f0 + c1 * t * slope0 or f >= low[1]:
                    high = (t, f, slope, g)
                else:
                    if abs(slope) <= -c2 * slope0:
                        return t, f, g
                    if slope * (high[0] - low[0]) >= 0:
                        high = low
                    low = (t, f, slope, g)
        t, f, g = best
        if t == 0.0 or g is None:
            return 0.0, f0, None
        # The last evaluation may not be at ``best``: re-evaluate there for the gradient.
        f, g, _ = phi(t)
        return t, f, g
