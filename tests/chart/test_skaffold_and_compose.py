"""skaffold.yaml and docker-compose.yml describe the same images, Dockerfiles and chart.

Neither compose nor kind runs here (no Docker engine); these tests make sure the files parse,
that skaffold.yaml and each of its profiles validate against skaffold's own JSON schema, and that
every path, image name and chart value they mention exists, so `skaffold dev` and
`docker compose up` fail for reasons of the cluster, never of a stale file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ROOT

#: image name -> Dockerfile, the naming scripts/k8s/build-images.sh and the chart defaults use
IMAGES = {
    "phonicflow/converter": "services/audio-converter/Dockerfile",
    "phonicflow/backend": "services/backend/Dockerfile",
    "phonicflow/bot": "services/bot/Dockerfile",
    "phonicflow/emulator": "services/telegram-emulator/Dockerfile",
}
CHART_KEYS = {"converter": "converter", "backend": "backend", "bot": "bot", "emulator": "emulator"}


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text())


def has_value(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.chart
def test_skaffold_builds_every_image_from_the_repository_root():
    config = load("skaffold.yaml")
    assert re.fullmatch(r"skaffold/v4beta\d+", config["apiVersion"])
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == set(IMAGES)
    for image, artifact in artifacts.items():
        assert artifact["context"] == "."
        assert artifact["docker"]["dockerfile"] == IMAGES[image]
        assert (ROOT / IMAGES[image]).is_file()


@pytest.mark.chart
def test_skaffold_deploys_the_chart_with_the_built_images():
    config = load("skaffold.yaml")
    (release,) = config["manifests"]["helm"]["releases"]
    chart = ROOT / release["chartPath"]
    assert (chart / "Chart.yaml").is_file()
    values = yaml.safe_load((chart / "values.yaml").read_text())
    templates = release["setValueTemplates"]
    for image in IMAGES:
        key = CHART_KEYS[image.split("/")[1]]
        suffix = image.replace("/", "_")
        assert templates[f"{key}.image.repository"] == f"{{{{.IMAGE_REPO_{suffix}}}}}"
        assert templates[f"{key}.image.tag"] == f"{{{{.IMAGE_TAG_{suffix}}}}}"
        assert values[key]["image"]["repository"] == image, "chart default matches the build"
    for dotted in list(templates) + list(release.get("setValues", {})):
        assert has_value(values, dotted), f"skaffold sets {dotted}, which values.yaml lacks"
    assert "token" not in yaml.safe_dump(release.get("setValues", {})).lower().replace(
        "existingsecret", ""
    ), "the token must never pass through skaffold"


@pytest.mark.chart
def test_the_kind_profile_loads_images_without_a_registry_and_runs_the_emulator():
    config = load("skaffold.yaml")
    profile = next(p for p in config["profiles"] if p["name"] == "kind")
    patches = {p["path"]: p for p in profile["patches"]}
    assert patches["/build/local/push"]["value"] is False
    (values_file,) = patches["/manifests/helm/releases/0/valuesFiles"]["value"]
    e2e_values = yaml.safe_load((ROOT / values_file).read_text())
    assert e2e_values["emulator"]["enabled"] is True
    assert profile["activation"][0]["kubeContext"].startswith("kind-")
    kind_config = yaml.safe_load((ROOT / "scripts/k8s/kind-config.yaml").read_text())
    assert f"kind-{kind_config['name']}" == profile["activation"][0]["kubeContext"]


def local_cluster_context() -> str:
    """The kube-context scripts/k8s/local-cluster.sh writes into its kubeconfig."""
    text = (ROOT / "scripts/k8s/local-cluster.sh").read_text()
    match = re.search(r"^CONTEXT=(\S+)$", text, re.MULTILINE)
    assert match, "local-cluster.sh names its context in CONTEXT="
    return match.group(1)


@pytest.mark.chart
def test_the_local_profile_builds_each_image_with_the_cluster_image_script_and_runs_the_emulator():
    config = load("skaffold.yaml")
    profile = next(p for p in config["profiles"] if p["name"] == "local")
    assert profile["activation"] == [{"kubeContext": local_cluster_context()}]
    base = {key: value for key, value in config.items() if key != "profiles"}
    local = apply_json_patch(base, profile["patches"])
    assert local["build"]["local"]["push"] is False, "no registry: the script imports the images"
    for artifact in local["build"]["artifacts"]:
        assert "docker" not in artifact, artifact["image"]
        custom = artifact["custom"]
        # the same script `make k8s-test` loads images with, once per image ($IMAGE, skaffold's
        # custom-build contract); its dependencies drive `skaffold dev`'s rebuilds and the tag
        assert custom["buildCommand"] == "scripts/k8s/cluster-images.sh"
        assert custom["dependencies"] == {"dockerfile": {"path": IMAGES[artifact["image"]]}}
    assert (ROOT / "scripts/k8s/cluster-images.sh").stat().st_mode & 0o111
    (values_file,) = local["manifests"]["helm"]["releases"][0]["valuesFiles"]
    assert yaml.safe_load((ROOT / values_file).read_text())["emulator"]["enabled"] is True
    forwarded = {f["resourceName"] for f in local["portForward"]}
    assert forwarded == {"phonicflow-bot-bot", "phonicflow-bot-emulator"}


def skaffold_schema_validator() -> Any:
    import json

    import jsonschema

    schema = json.loads((ROOT / "tests/chart/schemas/skaffold-v4beta11.json").read_text())
    return jsonschema.Draft7Validator(schema)


@pytest.mark.chart
def test_skaffold_yaml_and_every_profile_result_validate_against_skaffolds_schema():
    config = load("skaffold.yaml")
    assert config["apiVersion"] == "skaffold/v4beta11", "vendor the schema of the new version"
    validator = skaffold_schema_validator()
    assert not list(validator.iter_errors(config))
    base = {key: value for key, value in config.items() if key != "profiles"}
    for profile in config["profiles"]:
        patched = apply_json_patch(base, profile["patches"])
        errors = [e.message[:300] for e in validator.iter_errors(patched)]
        assert not errors, (profile["name"], errors)


@pytest.mark.chart
def test_the_skaffold_schema_rejects_a_misspelt_key():
    """Without this the validation above could pass on a schema that accepts anything."""
    config = load("skaffold.yaml")
    validator = skaffold_schema_validator()
    config["build"]["artifacts"][0]["custom"] = {"buildComand": "scripts/k8s/cluster-images.sh"}
    del config["build"]["artifacts"][0]["docker"]
    assert list(validator.iter_errors(config))


def built_skaffold() -> str | None:
    """$SKAFFOLD, skaffold on PATH, or the one scripts/k8s/skaffold-tool.sh built."""
    cache = Path(os.environ.get("PHONICFLOW_CACHE") or Path.home() / ".cache/phonicflow")
    candidates = [
        os.environ.get("SKAFFOLD"),
        shutil.which("skaffold"),
        cache / "tools/bin/skaffold",
    ]
    return next((str(c) for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.mark.chart
def test_helm_without_a_cluster_renders_the_chart_as_skaffold_calls_it(helm):
    """`skaffold run` renders with `helm template` and no --kube-version before it deploys: the
    helm here must assume a Kubernetes the chart's kubeVersion accepts, as released helm does."""
    result = subprocess.run(
        [helm, "template", "phonicflow-bot", str(ROOT / "charts/phonicflow-bot"),
         "--set", "emulator.enabled=true"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "kind: Deployment" in result.stdout


@pytest.mark.chart
def test_skaffold_itself_renders_the_local_profile_offline(helm, tmp_path):
    """skaffold's own parser, profile activation and helm deployer, with no cluster and no build."""
    skaffold = built_skaffold()
    if skaffold is None:
        pytest.skip("skaffold is not built here: make skaffold-tool (scripts/k8s/skaffold-tool.sh)")
    # skaffold runs `helm template` with no --kube-version: the helm make setup builds assumes
    # Kubernetes 1.34 there, as helm's released binaries do (a plain `go install` assumed 1.20,
    # which the chart's kubeVersion refuses, and `skaffold run` failed before deploying)
    env = {
        **os.environ,
        "PATH": f"{Path(helm).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),  # skaffold's global config and caches, not the user's
        "KUBECONFIG": str(tmp_path / "no-cluster"),
        "SKAFFOLD_UPDATE_CHECK": "false",
    }
    result = subprocess.run(
        [skaffold, "render", "-p", "local", "--offline=true", "--digest-source=tag"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    # skaffold's setValueTemplates reached the chart: every workload runs an image of the build
    assert {i.rsplit(":", 1)[0] for i in images} == set(IMAGES), images
    assert any(o["metadata"]["name"] == "phonicflow-bot-emulator" for o in objects)
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] == "Deployment"} == {
        "phonicflow"
    }


@pytest.mark.chart
def test_compose_runs_the_same_images_on_a_private_network():
    compose = load("docker-compose.yml")
    services = compose["services"]
    assert set(services) == {"converter", "backend", "bot", "redis", "emulator"}
    for name, service in services.items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "healthcheck" in service, name
        if name == "redis":
            continue
        image = f"phonicflow/{name}"
        assert service["image"] == f"${{IMAGE_PREFIX:-phonicflow/}}{name}:${{IMAGE_TAG:-dev}}"
        assert service["build"] == {"context": ".", "dockerfile": IMAGES[image]}
    # the seed called its private network "backend"; here it is named and made private
    assert compose["networks"]["private"] == {"internal": True}
    for name in ("converter", "backend", "redis"):
        assert services[name]["networks"] == ["private"], f"{name} must not reach outside"
    assert set(services["bot"]["networks"]) == {"private", "edge"}
    assert services["emulator"]["profiles"] == ["emulator"]
    assert "ports" not in services["backend"] and "ports" not in services["converter"]


@pytest.mark.chart
def test_compose_wires_the_bot_to_the_services_by_name_and_keeps_secrets_out():
    compose = load("docker-compose.yml")
    bot = compose["services"]["bot"]["environment"]
    assert bot["BACKEND_URL"] == "http://backend:8000"
    assert bot["CONVERTER_ADDRESS"] == "converter:50051"
    assert bot["REDIS_URL"].startswith("redis://redis:6379")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key in {"TELEGRAM_BOT_TOKEN", "BOT_PRIVATE_KEY"}:
                assert str(value).startswith("${"), f"{name}.{key} must come from the environment"


@pytest.mark.chart
@pytest.mark.parametrize("dockerfile", sorted(IMAGES.values()))
def test_every_image_is_multi_stage_debian_and_runs_as_a_numeric_non_root_user(dockerfile):
    text = (ROOT / dockerfile).read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages == ["debian:bookworm-slim", "debian:bookworm-slim"], stages
    assert "uv sync --frozen --no-dev" in text
    assert "--mount=type=secret,id=cacert,required=false" in text, "the CA must stay optional"
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user == ["${APP_UID}:${APP_UID}"] and re.search(r"^ARG APP_UID=[1-9]\d+$", text, re.M)
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "/opt/uv" not in runtime and "python3-venv" not in runtime, "build tools stay behind"


@pytest.mark.chart
def test_the_build_context_leaves_out_what_images_must_not_contain():
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "*", "deny by default, then list what the builds need"
    for pattern in ("**/tests/", "**/.env", "**/__pycache__/"):
        assert pattern in ignore
    assert not any(line.startswith("!.venv") or line.startswith("!.git") for line in ignore)
    assert Path(ROOT / "uv.lock").is_file()


def apply_json_patch(document: Any, patches: list[dict[str, Any]]) -> Any:
    """The add/remove subset of RFC 6902 skaffold profiles use; KeyError/IndexError if a path is wrong."""
    import copy

    document = copy.deepcopy(document)
    for patch in patches:
        *parents, last = patch["path"].strip("/").split("/")
        node = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if patch["op"] == "add" and isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), patch["value"])
        elif patch["op"] == "add":
            assert isinstance(node, dict), patch
            node[last] = patch["value"]
        elif patch["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        else:
            raise AssertionError(f"unexpected patch op {patch}")
    return document


@pytest.mark.chart
def test_every_skaffold_profile_patch_lands_on_an_existing_path():
    config = load("skaffold.yaml")
    base = {key: value for key, value in config.items() if key != "profiles"}
    for profile in config["profiles"]:
        patched = apply_json_patch(base, profile["patches"])
        assert patched != base, profile["name"]
    kind = apply_json_patch(
        base, next(p for p in config["profiles"] if p["name"] == "kind")["patches"]
    )
    assert kind["build"]["local"]["push"] is False
    forwarded = {f["resourceName"] for f in kind["portForward"]}
    assert forwarded == {"phonicflow-bot-bot", "phonicflow-bot-emulator"}, "release-derived names"
    proxy = apply_json_patch(
        base, next(p for p in config["profiles"] if p["name"] == "proxy-ca")["patches"]
    )
    assert all(a["docker"]["secrets"][0]["id"] == "cacert" for a in proxy["build"]["artifacts"])


@pytest.mark.chart
@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts/k8s").glob("*.sh")))
def test_the_container_scripts_are_valid_bash_and_stop_on_errors(script):
    import subprocess

    path = ROOT / "scripts/k8s" / script
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    if not path.read_text().startswith("#!"):  # a library the scripts source, e.g. versions.sh
        assert not path.stat().st_mode & 0o111, f"{script} is sourced, not run"
        return
    assert "set -euo pipefail" in path.read_text()
    assert path.stat().st_mode & 0o111, f"{script} is not executable"


@pytest.mark.chart
def test_what_skaffold_deploys_on_kind_uses_the_emulator_token_not_the_production_secret(render):
    config = load("skaffold.yaml")
    (release,) = config["manifests"]["helm"]["releases"]
    kind = next(p for p in config["profiles"] if p["name"] == "kind")
    (values_file,) = next(p for p in kind["patches"] if p["path"].endswith("valuesFiles"))["value"]
    values = yaml.safe_load((ROOT / values_file).read_text())
    for dotted, value in release["setValues"].items():
        section, key = dotted.split(".")
        values.setdefault(section, {})[key] = value
    objects = render(values)
    bot = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-bot")
    )
    volumes = {v["name"]: v for v in bot["spec"]["template"]["spec"]["volumes"]}
    secret = next(o for o in objects if o["kind"] == "Secret" and "telegram-token" in o["data"])
    assert volumes["telegram-token"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert "telegram-token" in secret["data"]
