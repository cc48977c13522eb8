"""Set up Google Colab for the project's notebooks: install the clone this file lives in, keeping Colab's own torch.

Run by the hidden first cell of every notebook (inserted by `scripts/colab_cell.py`); does nothing outside Colab."""
import subprocess, sys
from pathlib import Path

def main():
    if 'google.colab' not in sys.modules and '--force' not in sys.argv: return
    repo = Path(__file__).resolve().parents[1]
    pip = [sys.executable, '-m', 'pip', 'install', '-q']
    subprocess.run(pip + ['--no-deps', str(repo)], check=True)  # --no-deps: keep Colab's torch build
    subprocess.run(pip + ['torch_geometric', 'fastcore', 'nbdev'], check=True)

if __name__ == '__main__': main()
