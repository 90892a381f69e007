"""Why the posted network turns into NaN on real data, and how to fix it.

The question that started this project: a hand-written network (forward_pass,
backward_pass, update_weights, train) whose activations explode to NaN on real data, even
with ReLU. This replays it on scikit-learn's diabetes data with raw features, lets
``tinygrad_mlp.diagnose`` explain the blow-up, then trains the fixed network and the
autograd ``nn.MLP`` side by side from the same weights. The story itself lives in
``tinygrad_mlp/story.py`` (it is also the default of ``python -m tinygrad_mlp``).

    python examples/nan_story.py            # pictures go to ./out
    python examples/nan_story.py --out DIR
"""

import argparse

from tinygrad_mlp import story

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="folder for the pictures")
    story.run(parser.parse_args().out)
