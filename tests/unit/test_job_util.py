"""Job bookkeeping that decides a job's fate: podFailurePolicy matching and OnFailure restart counting."""

from __future__ import annotations

from kinn.controllers.job_util import match_pod_failure_policy, restarts_of_active_pods


def pod(*containers: tuple[str, int], init: tuple[tuple[str, int], ...] = (), conditions: tuple[str, ...] = (),
        phase: str = "Failed") -> dict:
    def statuses(pairs: tuple[tuple[str, int], ...]) -> list[dict]:
        return [{"name": name, "restartCount": 0, "state": {"terminated": {"exitCode": code}}} for name, code in pairs]
    return {"metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": phase, "containerStatuses": statuses(containers),
                       "initContainerStatuses": statuses(init),
                       "conditions": [{"type": c, "status": "True"} for c in conditions]}}


def rule(action: str, operator: str = "In", values: tuple[int, ...] = (), container: str | None = None) -> dict:
    codes = {"operator": operator, "values": list(values), **({"containerName": container} if container else {})}
    return {"action": action, "onExitCodes": codes}


def test_the_first_matching_rule_decides_with_upstreams_message() -> None:
    policy = {"rules": [rule("Ignore", values=(1,)), rule("FailJob", values=(42, 43))]}
    assert match_pod_failure_policy(policy, pod(("main", 43))) == (
        "FailJob", "Container main for pod ns/p failed with exit code 43 matching FailJob rule at index 1")
    assert match_pod_failure_policy(policy, pod(("main", 1)))[0] == "Ignore"
    assert match_pod_failure_policy(policy, pod(("main", 2))) is None
    assert match_pod_failure_policy(None, pod(("main", 42))) is None


def test_not_in_a_named_container_and_exit_zero() -> None:
    policy = {"rules": [rule("FailJob", operator="NotIn", values=(5,), container="main")]}
    assert match_pod_failure_policy(policy, pod(("side", 9), ("main", 5))) is None  # side is not main
    assert match_pod_failure_policy(policy, pod(("main", 0), init=(("main", 6),)))[0] == "FailJob"
    assert match_pod_failure_policy({"rules": [rule("FailJob", operator="NotIn", values=(5,))]},
                                    pod(("main", 0))) is None  # a success never matches NotIn


def test_pod_conditions_match_with_status_true_by_default() -> None:
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    assert match_pod_failure_policy(policy, pod(("main", 137), conditions=("DisruptionTarget",))) == (
        "Ignore", "Pod ns/p has condition DisruptionTarget matching Ignore rule at index 0")
    assert match_pod_failure_policy(policy, pod(("main", 137), conditions=("Ready",))) is None


def test_restarts_count_only_in_running_and_pending_pods() -> None:
    running, finished = pod(("a", 1), init=(("i", 0),), phase="Running"), pod(("a", 1))
    running["status"]["containerStatuses"][0]["restartCount"] = 3
    running["status"]["initContainerStatuses"][0]["restartCount"] = 1
    finished["status"]["containerStatuses"][0]["restartCount"] = 9
    assert restarts_of_active_pods([running, finished]) == 4
