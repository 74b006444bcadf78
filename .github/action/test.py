"""Checks the GitHub Action and the example workflows, and runs the action's steps with a local
binary: test.py BINARY (from .github/action/test.sh, which installs PyYAML).

- action.yml: a composite action whose steps are bash, every `inputs.X` it uses declared.
- docs/workflows/*.yml: valid workflows with `permissions:`, no compile step, and every input
  they give the action declared by it.
- The action's steps, as the runner runs them (`${{ inputs.X }}` replaced by the input or its
  default, GITHUB_ACTION_PATH the repository, RENDORIX_BINARY the local build), in a copy of
  the fixture blog: sign, check, a failing check, resign, and a command it refuses.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPR = re.compile(r"\$\{\{\s*inputs\.([a-z_]+)\s*\}\}")


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def check_action(action):
    if action["runs"]["using"] != "composite":
        fail("action.yml is not a composite action")
    declared = set(action["inputs"])
    for step in action["runs"]["steps"]:
        if step.get("shell") != "bash":
            fail(f"step {step.get('name')} does not run in bash")
        used = EXPR.findall(yaml.safe_dump(step))
        if not set(used) <= declared:
            fail(f"step {step.get('name')} uses undeclared inputs {set(used) - declared}")
    return declared


def check_workflows(declared):
    files = sorted((ROOT / "docs" / "workflows").glob("*.yml"))
    if not files:
        fail("no example workflows in docs/workflows/")
    for path in files:
        flow = yaml.safe_load(path.read_text())
        if "permissions" not in flow:
            fail(f"{path.name}: no permissions:")
        uses_action = False
        for job in flow["jobs"].values():
            for step in job["steps"]:
                run = step.get("run", "")
                if re.search(r"cargo (install|build)", run):
                    fail(f"{path.name}: a compile step ({run!r})")
                if step.get("uses", "").startswith("rendorix/rendorix@"):
                    uses_action = True
                    unknown = set(step.get("with", {})) - declared
                    if unknown:
                        fail(f"{path.name}: inputs {unknown} are not the action's")
        if not uses_action:
            fail(f"{path.name}: does not use the action")
        print(f"{path.name}: valid, permissions set, no compile step, uses the action")


def run_action(action, binary, site, inputs):
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values.update(inputs)
    sub = lambda text: EXPR.sub(lambda m: str(values[m.group(1)]), str(text))
    for step in action["runs"]["steps"]:
        env = dict(os.environ)
        env.update({k: sub(v) for k, v in step.get("env", {}).items()})
        env.update(GITHUB_ACTION_PATH=str(ROOT), RENDORIX_BINARY=binary)
        done = subprocess.run(["bash", "-c", sub(step["run"])], cwd=site, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            return done.returncode, done.stdout + done.stderr
    return 0, ""


def main():
    binary = str(pathlib.Path(sys.argv[1]).resolve())
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    declared = check_action(action)
    check_workflows(declared)
    key = (ROOT / "fixtures" / "test-key").read_text().strip()
    with tempfile.TemporaryDirectory() as tmp:
        site = pathlib.Path(tmp) / "blog"
        shutil.copytree(ROOT / "fixtures" / "blog", site)
        for inputs, expected in [
            ({"command": "sign", "keys": key, "args": "--now 1715000000"}, 0),
            ({"command": "check", "keys": key, "args": "--now 1715000300"}, 0),
            ({"command": "check", "keys": key, "args": "--now 1815000000 -q"}, 1),
            ({"command": "resign", "keys": key, "site": "public", "args": "--now 1715090000"}, 0),
            ({"command": "deploy"}, 2),
        ]:
            code, output = run_action(action, binary, site, inputs)
            if code != expected:
                fail(f"{inputs['command']} {inputs.get('args', '')}: exit {code}, expected {expected}\n{output}")
            print(f"action: {inputs['command']} {inputs.get('args', '')} -> exit {code}")
        if "&amp;kid=k2026a&amp;sig=" not in (site / "public" / "index.html").read_text():
            fail("the action's sign and resign left the page unsigned")


if __name__ == "__main__":
    main()
