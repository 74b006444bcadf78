"""Checks the GitHub Action and the example workflows, and runs the action's steps with a local
binary: test.py BINARY (from .github/action/test.sh, which installs PyYAML).

- action.yml: a composite action whose steps are bash, every `inputs.X` it uses declared.
- docs/workflows/*.yml: valid workflows with `permissions:`, no compile step, and every input
  they give the action declared by it.
- The action's steps, as the runner runs them (`${{ inputs.X }}` replaced by the input or its
  default, GITHUB_ACTION_PATH the repository, RENDORIX_BINARY the local build), in a copy of
  the fixture blog: sign, check, a failing check, resign, and a command it refuses.
- The sharded workflows (docs/workflows/sharded*.yml), job by job as GitHub runs them: each
  matrix job in a workspace of its own, artifacts passed between jobs, `${{ ... }}` expressions
  and step outputs, the action's steps; the user's own steps (the build, the cloud fetch and
  deploy) replaced by copying the fixture blog in and out. The deployed pages and manifest must
  be those of one `rendorix sign` (then `resign`) of the same site at the same instant.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPR = re.compile(r"\$\{\{\s*inputs\.([a-z_]+)\s*\}\}")


# The manifest and its URL file.
MANIFEST = ["rendorix-manifest.json", "rendorix-manifest.json.urls"]


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
    run_sharded_workflows(action, binary, key)


class Runner:
    """Runs a workflow's jobs in `needs` order, each matrix job in a workspace of its own."""

    def __init__(self, action, binary, key, tmp, bucket):
        self.action, self.binary, self.key = action, binary, key
        self.tmp, self.bucket = pathlib.Path(tmp), bucket
        self.artifacts = self.tmp / "artifacts"
        self.artifacts.mkdir(exist_ok=True)

    def run(self, flow):
        outputs, done = {}, set()
        jobs = flow["jobs"]
        while len(done) < len(jobs):
            for name, job in jobs.items():
                needs = job.get("needs", [])
                needs = [needs] if isinstance(needs, str) else needs
                if name in done or not set(needs) <= done:
                    continue
                shards = job.get("strategy", {}).get("matrix", {}).get("shard", [None])
                for shard in shards:
                    outputs[name] = self.job(name, job, shard, len(shards), outputs)
                done.add(name)

    def job(self, name, job, shard, total, outputs):
        work = pathlib.Path(tempfile.mkdtemp(dir=self.tmp, prefix=f"{name}-"))
        steps = {}

        def sub(text):
            def value(m):
                expr = m.group(1).strip()
                if expr == "matrix.shard":
                    return str(shard)
                if expr == "strategy.job-total":
                    return str(total)
                if expr == "secrets.RENDORIX_KEYS":
                    return self.key
                parts = expr.split(".")
                if parts[0] == "needs":
                    return outputs[parts[1]][parts[3]]
                if parts[0] == "steps":
                    return steps[parts[1]][parts[3]]
                fail(f"job {name}: unknown expression {expr}")
            return re.sub(r"\$\{\{(.*?)\}\}", value, str(text))

        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("aws-actions/"):
                continue  # the cloud's credentials: the fetch and deploy steps are replaced
            with_ = {k: sub(v) for k, v in step.get("with", {}).items()}
            label = step.get("name") or uses or step["run"].splitlines()[0]
            if uses.startswith("actions/checkout@"):
                shutil.copy(ROOT / "fixtures" / "blog" / "rendorix.toml", work)
            elif step.get("name") == "Build the site":
                shutil.copytree(ROOT / "fixtures" / "blog" / "public", work / "public")
            elif step.get("name") == "Fetch the deployed site and its manifest":
                shutil.copytree(self.bucket / "public", work / "public")
                for file in MANIFEST:
                    shutil.copy(self.bucket / file, work)
            elif step.get("name") == "Deploy":
                shutil.rmtree(self.bucket, ignore_errors=True)
                shutil.copytree(work / "public", self.bucket / "public")
                for file in MANIFEST:
                    shutil.copy(work / file, self.bucket)
            elif uses.startswith("actions/upload-artifact@"):
                store = self.artifacts / with_["name"]
                store.mkdir()
                shutil.copy(work / with_["path"], store)
            elif uses.startswith("actions/download-artifact@"):
                if "name" in with_:
                    shutil.copytree(self.artifacts / with_["name"], work, dirs_exist_ok=True)
                else:
                    for store in self.artifacts.glob(with_["pattern"]):
                        shutil.copytree(store, work / store.name)
            elif uses.startswith("rendorix/rendorix@"):
                code, output = run_action(self.action, self.binary, work, with_)
                if code != 0:
                    fail(f"job {name} (shard {shard}): {label}: exit {code}\n{output}")
            elif "run" in step:
                out_file = work.parent / f"{work.name}.out"
                out_file.write_text("")
                env = dict(os.environ, GITHUB_OUTPUT=str(out_file))
                done = subprocess.run(["bash", "-eo", "pipefail", "-c", sub(step["run"])],
                                      cwd=work, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    fail(f"job {name}: {label}: exit {done.returncode}\n{done.stdout}{done.stderr}")
                if "id" in step:
                    steps[step["id"]] = dict(
                        line.split("=", 1) for line in out_file.read_text().splitlines())
            else:
                fail(f"job {name}: the runner does not know step {label}")
        print(f"workflow job {name}" + (f" (shard {shard}/{total})" if shard else "") + ": ok")
        return {k: sub(v) for k, v in job.get("outputs", {}).items()}


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_sharded_workflows(action, binary, key):
    """The sharded sign, then the sharded resign 1 s later, against one run of each."""
    with tempfile.TemporaryDirectory() as tmp:
        bucket = pathlib.Path(tmp) / "bucket"
        runner = Runner(action, binary, key, tmp, bucket)
        runner.run(yaml.safe_load((ROOT / "docs/workflows/sharded.yml").read_text()))
        manifest = json.loads((bucket / "rendorix-manifest.json").read_text())
        now = str(manifest["generated_at"])
        one = pathlib.Path(tmp) / "one"
        shutil.copytree(ROOT / "fixtures" / "blog", one)
        env = dict(os.environ, RENDORIX_KEYS=key)
        subprocess.run([binary, "sign", "--now", now, "-q"], cwd=one, env=env, check=True)
        for name in ["public", *MANIFEST]:
            a, b = one / name, bucket / name
            same = files(a) == files(b) if a.is_dir() else a.read_bytes() == b.read_bytes()
            if not same:
                subprocess.run(["diff", str(a), str(b)]) if a.is_file() else None
                fail(f"sharded workflow: {name} differs from one `rendorix sign --now {now}`")
        print(f"sharded.yml: the deployed site and manifest are those of one sign at {now}")
        # The resign workflow, against one `rendorix resign` of the deployed state at its instant.
        time.sleep(1.1)
        ref = pathlib.Path(tmp) / "ref"
        shutil.copytree(bucket, ref)
        shutil.copy(ROOT / "fixtures" / "blog" / "rendorix.toml", ref)
        runner.artifacts = pathlib.Path(tempfile.mkdtemp(dir=tmp, prefix="artifacts-"))
        runner.run(yaml.safe_load((ROOT / "docs/workflows/sharded-resign.yml").read_text()))
        later = str(json.loads((bucket / "rendorix-manifest.json").read_text())["generated_at"])
        if later == now:
            fail("sharded-resign.yml: the manifest was not written again")
        subprocess.run([binary, "resign", "--now", later, "-q"], cwd=ref, env=env, check=True)
        for name in ["public", *MANIFEST]:
            a, b = ref / name, bucket / name
            same = files(a) == files(b) if a.is_dir() else a.read_bytes() == b.read_bytes()
            if not same:
                fail(f"sharded resign workflow: {name} differs from one `rendorix resign --now {later}`")
        print(f"sharded-resign.yml: the deployed site and manifest are those of one resign at {later}")


if __name__ == "__main__":
    main()
