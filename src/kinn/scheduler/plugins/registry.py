"""The default profile: plugins in upstream's order (filters stop at the first rejection, so the order
decides which reason a node is reported under) and score weights (apis/config/v1/default_plugins.go)."""

from __future__ import annotations

from kinn.scheduler.framework.interface import Handle
from kinn.scheduler.framework.runtime import Framework
from kinn.scheduler.plugins.balancedallocation import BalancedAllocation
from kinn.scheduler.plugins.defaultpreemption import DefaultPreemption
from kinn.scheduler.plugins.interpodaffinity import InterPodAffinity
from kinn.scheduler.plugins.nodeaffinity import NodeAffinity
from kinn.scheduler.plugins.nodename import NodeName
from kinn.scheduler.plugins.nodeports import NodePorts
from kinn.scheduler.plugins.noderesources import NodeResourcesFit
from kinn.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from kinn.scheduler.plugins.podtopologyspread import PodTopologySpread
from kinn.scheduler.plugins.tainttoleration import TaintToleration
from kinn.scheduler.plugins.volumebinding import VolumeBinding
from kinn.scheduler.plugins.volumerestrictions import VolumeRestrictions

DEFAULT_PLUGINS = (
    NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeRestrictions,
    VolumeBinding, PodTopologySpread, InterPodAffinity, DefaultPreemption, BalancedAllocation,
)
DEFAULT_SCORE_WEIGHTS = {
    "TaintToleration": 3, "NodeAffinity": 2, "PodTopologySpread": 2, "InterPodAffinity": 2,
    "NodeResourcesFit": 1, "NodeResourcesBalancedAllocation": 1,
}


def default_framework(handle: Handle) -> Framework:
    return Framework([plugin(handle) for plugin in DEFAULT_PLUGINS], DEFAULT_SCORE_WEIGHTS, handle)
