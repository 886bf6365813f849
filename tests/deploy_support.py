"""What the deployment-file tests share: the compose file, the Dockerfile's user, and `render`, a
small kustomize renderer.

There is no kustomize binary here, and the Python binding on PyPI (pykustomize) needs Python 3.14,
so `render` implements exactly the kustomization fields deploy/k8s uses, with kustomize's meaning,
and refuses anything else (an unknown field, a patch it cannot apply the way kustomize would), so
a feature added to the manifests cannot be silently ignored here:

- `resources`: YAML files (several documents each) and directories holding a kustomization.yaml
- `labels`: `pairs` added to every resource's metadata.labels and, with `includeTemplates`, to pod
  templates; `includeSelectors` is refused (it would rewrite selectors)
- `patches`: `path` to one strategic-merge patch, applied to the resource of the same kind and
  name; maps merge, `null` deletes a key, lists of containers, init containers, env, volumes and
  volume mounts merge by their merge key; any other list in a patch is refused
- `replicas`: spec.replicas of the workload with that name
- `images`: `newName` / `newTag` for container and init container images of that name
- `namespace`: metadata.namespace of every resource (deploy/k8s has no cluster-scoped kinds)
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"

_FIELDS = {"apiVersion", "kind", "resources", "labels", "patches", "replicas", "images", "namespace"}
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name", "volumeMounts": "mountPath"}
_WORKLOADS = {"Deployment", "StatefulSet", "ReplicaSet"}


class Unsupported(ValueError):
    """A kustomization uses something `render` does not implement."""


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_user() -> int:
    return int(re.findall(r"^USER (\d+)$", (ROOT / "Dockerfile").read_text(), re.M)[-1])


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[dict]:
    """The resources `kustomize build directory` would print, as dicts, in resource order."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - _FIELDS
    if unknown or kustomization.get("kind") != "Kustomization":
        raise Unsupported(f"{directory}: {sorted(unknown) or kustomization.get('kind')}")
    docs: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        docs += render(path) if path.is_dir() else load_documents(path)
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    if len(set(keys)) != len(keys):
        raise Unsupported(f"{directory}: a resource is defined twice: {keys}")
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"patch {patch}: only `path` is implemented")
        [body] = load_documents(directory / patch["path"])  # kustomize: one patch per file
        target = find(docs, body["kind"], body["metadata"]["name"])
        docs[docs.index(target)] = merge(target, body)
    for spec in kustomization.get("labels", []):
        if spec.get("includeSelectors") or set(spec) - {"pairs", "includeSelectors", "includeTemplates"}:
            raise Unsupported(f"labels {spec}")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(spec["pairs"])
            if spec.get("includeTemplates") and "template" in doc.get("spec", {}):
                doc["spec"]["template"]["metadata"].setdefault("labels", {}).update(spec["pairs"])
    for spec in kustomization.get("replicas", []):
        [workload] = [d for d in docs if d["kind"] in _WORKLOADS and d["metadata"]["name"] == spec["name"]]
        workload["spec"]["replicas"] = spec["count"]
    for spec in kustomization.get("images", []):
        if set(spec) - {"name", "newName", "newTag"}:
            raise Unsupported(f"images {spec}")
        for container in (c for doc in docs for c in containers(doc)):
            name, _, tag = split_image(container["image"])
            if name == spec["name"]:
                tag = spec.get("newTag", tag)
                container["image"] = spec.get("newName", name) + (f":{tag}" if tag else "")
    if "namespace" in kustomization:
        for doc in docs:
            doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs


def merge(target: dict, patch: dict) -> dict:
    """Strategic merge of `patch` into a copy of `target`, for the cases listed in the module doc."""
    merged = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        elif isinstance(value, list):
            if key not in _MERGE_KEYS:
                raise Unsupported(f"list `{key}` in a patch: its strategic-merge rule is not implemented")
            merged[key] = _merge_list(merged.get(key, []), value, _MERGE_KEYS[key])
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_list(items: list[dict], patch: list[dict], key: str) -> list[dict]:
    result = list(items)
    for entry in patch:
        at = [i for i, item in enumerate(result) if item[key] == entry[key]]
        if at:
            result[at[0]] = merge(result[at[0]], entry)
        else:
            result.append(copy.deepcopy(entry))
    return result


def find(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(found) != 1:
        raise LookupError(f"{kind}/{name}: {len(found)} found")
    return found[0]


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(doc: dict, init: bool = True) -> list[dict]:
    """The containers (and init containers) of a workload's pod template; [] for other kinds."""
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return pod.get("containers", []) + (pod.get("initContainers", []) if init else [])


def split_image(image: str) -> tuple[str, str, str]:
    """`name:tag` -> (name, ":", tag); a registry port (host:5000/x) is part of the name."""
    name, colon, tag = image.rpartition(":")
    return (name, colon, tag) if colon and "/" not in tag else (image, "", "")
