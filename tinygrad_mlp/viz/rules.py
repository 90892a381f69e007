"""Each operation's local rule, written out for a learner: what it computes and what it sends
back to each input.

``RULES`` maps an operation's name (``Function.name``) to a :class:`Rule`: the forward formula
in the names of its inputs (``ROLES`` of ``labels``: ``x``, ``W``, ``b`` for ``linear``) and one
line per input saying the gradient it receives, with ``g`` the gradient arriving at the
operation's output and ``out`` its value. These are words for the stepper's pages; the numbers
beside them always come from the engine's own rule (``Function.backward``).

>>> rule_of("mul", 2).inputs
('g · b', 'g · a')
>>> rule_of("linear", 3).forward
'x @ Wᵀ + b'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """``forward``: the formula of the output; ``inputs``: what each input receives."""

    forward: str
    inputs: tuple[str, ...]


_R = Rule
# Broadcast inputs get their gradient summed over the broadcast axes (said once in the page).
RULES: dict[str, Rule] = {
    "add": _R("a + b", ("g", "g")),
    "sub": _R("a − b", ("g", "−g")),
    "mul": _R("a · b", ("g · b", "g · a")),
    "div": _R("a / b", ("g / b", "−g · a / b²  (= −g · out / b)")),
    "pow": _R("a ** b", ("g · b · a^(b−1)", "g · out · ln a")),
    "maximum": _R("max(a, b)", ("g where a > b (half at ties)", "g where b > a (half at ties)")),
    "minimum": _R("min(a, b)", ("g where a < b (half at ties)", "g where b < a (half at ties)")),
    "where": _R("where(cond, a, b)", ("g where cond", "g where not cond")),
    "matmul": _R("a @ b", ("g @ bᵀ", "aᵀ @ g")),
    "linear": _R("x @ Wᵀ + b", ("g @ W", "gᵀ @ x", "Σ over rows of g")),
    "neg": _R("−x", ("−g",)),
    "abs": _R("|x|", ("g · sign(x)",)),
    "exp": _R("eˣ", ("g · out  (= g · eˣ)",)),
    "log": _R("ln x", ("g / x",)),
    "sqrt": _R("√x", ("g / (2 · out)",)),
    "sin": _R("sin x", ("g · cos x",)),
    "cos": _R("cos x", ("−g · sin x",)),
    "tanh": _R("tanh x", ("g · (1 − out²)",)),
    "sigmoid": _R("σ(x) = 1 / (1 + e⁻ˣ)", ("g · out · (1 − out)",)),
    "relu": _R("max(x, 0)", ("g where x > 0, else 0",)),
    "leaky_relu": _R("x if x > 0 else slope · x", ("g where x > 0, else slope · g",)),
    "softplus": _R("ln(1 + eˣ)", ("g · σ(x)",)),
    "clip": _R("clip(x, min, max)", ("g where min ≤ x ≤ max, else 0",)),
    "cast": _R("x as another dtype", ("g, cast back to x's dtype",)),
    "clone": _R("x (a copy)", ("g",)),
    "square": _R("x²", ("g · 2x",)),
    "sign": _R("sign x", ("0 (sign is flat wherever it has a slope)",)),
    "erf": _R("erf x", ("g · 2/√π · e^(−x²)",)),
    "expm1": _R("eˣ − 1", ("g · (out + 1)",)),
    "log1p": _R("ln(1 + x)", ("g / (1 + x)",)),
    "nan_to_num": _R("x with NaN and ±inf replaced", ("g where x is finite, else 0",)),
    "sum": _R("Σ x (over the axes)", ("g, copied to every entry that was summed",)),
    "mean": _R("Σ x / n (over the axes)", ("g / n, copied to every entry",)),
    "max": _R("max x (over the axes)", ("g to the largest entry (shared at ties)",)),
    "min": _R("min x (over the axes)", ("g to the smallest entry (shared at ties)",)),
    "var": _R("Σ (x − mean)² / (n − ddof)", ("g · 2 (x − mean) / (n − ddof)",)),
    "std": _R("√(Σ (x − mean)² / (n − ddof))", ("g · (x − mean) / ((n − ddof) · out)",)),
    "prod": _R("Π x (over the axes)", ("g · out / x  (the product of the others)",)),
    "norm": _R("‖x‖ (over the axes)", ("g · x / out",)),
    "logsumexp": _R("ln Σ eˣ", ("g · softmax(x)  (= g · e^(x − out))",)),
    "softmax": _R("eˣ / Σ eˣ", ("out · (g − Σ g · out)",)),
    "log_softmax": _R("x − ln Σ eˣ", ("g − softmax(x) · Σ g",)),
    "cross_entropy": _R(
        "mean over rows of −ln softmax(logits)[target]",
        ("g · (softmax(logits) − onehot(target)) / N", "(class indices: no gradient)"),
    ),
    "mse_loss": _R("mean of (input − target)²",
                   ("g · 2 (input − target) / n", "−g · 2 (input − target) / n")),
    "binary_cross_entropy": _R(
        "mean of −[target · ln p + (1 − target) · ln(1 − p)]",
        ("g · (p − target) / (p (1 − p)) / n", "g · (ln(1 − p) − ln p) / n"),
    ),
    "reshape": _R("x with a new shape", ("g reshaped back",)),
    "transpose": _R("x with its axes swapped", ("g with the axes swapped back",)),
    "expand": _R("x broadcast to a larger shape", ("g summed over the new axes",)),
    "getitem": _R("x[index]", ("g put back at the index, 0 elsewhere",)),
    "setitem": _R("a with b written at the index (a[index] = b)",
                  ("g where a was kept, 0 where b was written", "g at the index")),
    "copy": _R("b copied over a (a.copy_(b), a.fill_(b))",
               ("0: the old values are gone", "g (summed back to b's shape)")),
    "scatter_add": _R("x with values added at an index", ("g", "g at the index")),
    "cat": _R("the inputs joined along an axis", ("each input's slice of g",)),
    "stack": _R("the inputs stacked on a new axis", ("each input's slice of g",)),
}
# Reductions of the losses, said in words beside "mean" when they are not the mean.
_SUMMED = {"mean over rows of": "sum over rows of", "mean of": "sum of"}

BROADCAST_NOTE = ("an input that was broadcast receives the gradient summed over the "
                  "broadcast axes")


def rule_of(name: str, inputs: int, reduction: str | None = None) -> Rule:
    """The rule of operation ``name`` with ``inputs`` inputs (``reduction`` of a fused loss:
    ``"sum"`` and ``"none"`` drop the ``/ n``). Unknown operations get a rule that says where
    their backward is written, never a made-up formula.

    >>> rule_of("mse_loss", 2, "sum").inputs[0]
    'g · 2 (input − target)'
    >>> rule_of("erfinv", 1).forward
    'erfinv(x)'
    """
    rule = RULES.get(name)
    if rule is None:
        return Rule(f"{name}(x)", tuple(f"its backward rule, for input {i}"
                                        for i in range(inputs)))
    if reduction in ("sum", "none"):
        forward = rule.forward
        for mean, total in _SUMMED.items():
            forward = forward.replace(mean, total if reduction == "sum" else "each of")
        grads = tuple(t.replace(" / N", "").replace(" / n", "") for t in rule.inputs)
        rule = Rule(forward, grads)
    if name in ("cat", "stack"):
        return Rule(rule.forward, rule.inputs * inputs)
    if len(rule.inputs) > inputs:  # linear without bias, cross-entropy on class indices
        return Rule(rule.forward.replace(" + b", "") if name == "linear" else rule.forward,
                    rule.inputs[:inputs])
    return rule
