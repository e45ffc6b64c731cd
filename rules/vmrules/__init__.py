"""vmrules: the built-in rule pack of vmanalyze.

The pack is registered exactly like a third-party one (``docs/writing-rules.md``): one entry
point per code prefix in the ``vmanalyze.rules`` group, whose value is a tuple of rules::

    [project.entry-points."vmanalyze.rules"]
    THP = "vmrules:THP_RULES"
    FLT = "vmrules:FLT_RULES"
    ...

Each rule lives in its own module, named after the rule (``vmrules/thp/thp_always_enabled.py``
holds ``THP001 thp-always-enabled``), and is added to the tuple of its prefix below. A rule's
code never changes and is never reused. ``ALL_RULES`` gathers every tuple, for tests and tools.
The tuples are empty until the rules are written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmrules.alloc.page_allocation_failures import page_allocation_failures
from vmrules.alloc.watermark_settings import watermark_settings
from vmrules.cgr.cgroup_memory_limit import cgroup_memory_limit
from vmrules.drt.dirty_writeback_pressure import dirty_writeback_pressure
from vmrules.flt.high_major_fault_rate import high_major_fault_rate
from vmrules.frag.high_order_fragmentation import high_order_fragmentation
from vmrules.hpg.hugepages_reserved_unused import hugepages_reserved_unused
from vmrules.hung.hung_tasks_under_pressure import hung_tasks_under_pressure
from vmrules.kmem.kernel_memory_growth import kernel_memory_growth
from vmrules.mem.low_available_memory import low_available_memory
from vmrules.mem.process_memory_growth import process_memory_growth
from vmrules.mlk.mlocked_growth import mlocked_growth
from vmrules.numa.numa_node_imbalance import numa_node_imbalance
from vmrules.numa.remote_numa_access import remote_numa_access
from vmrules.numa.zone_reclaim_enabled import zone_reclaim_enabled
from vmrules.oom.oom_kills import oom_kills
from vmrules.ovc.overcommit_risk import overcommit_risk
from vmrules.pgc.page_cache_thrashing import page_cache_thrashing
from vmrules.psi.memory_pressure_stalls import memory_pressure_stalls
from vmrules.rcl.reclaim_stalls import reclaim_stalls
from vmrules.shm.shmem_growth import shmem_growth
from vmrules.swp.compressed_swap_thrashing import compressed_swap_thrashing
from vmrules.swp.swap_nearly_full import swap_nearly_full
from vmrules.swp.swap_thrashing import swap_thrashing
from vmrules.swp.swappiness_on_database_host import swappiness_on_database_host
from vmrules.thp.thp_always_on_database_host import thp_always_on_database_host
from vmrules.thp.thp_defrag_stalls import thp_defrag_stalls

if TYPE_CHECKING:
    from vmanalyze import Rule

#: Transparent huge pages: enabled/defrag modes, khugepaged, compaction stalls.
THP_RULES: tuple[Rule, ...] = (thp_always_on_database_host, thp_defrag_stalls)
#: Page faults: major-fault storms, refaults.
FLT_RULES: tuple[Rule, ...] = (high_major_fault_rate,)
#: NUMA: imbalance, remote allocations, zone_reclaim_mode, balancing.
NUMA_RULES: tuple[Rule, ...] = (remote_numa_access, numa_node_imbalance, zone_reclaim_enabled)
#: Overcommit: vm.overcommit_* settings against Committed_AS.
OVC_RULES: tuple[Rule, ...] = (overcommit_risk,)
#: Swap: thrashing, swap full, swappiness.
SWP_RULES: tuple[Rule, ...] = (
    swap_thrashing,
    swap_nearly_full,
    swappiness_on_database_host,
    compressed_swap_thrashing,
)
#: Memory availability in general: MemAvailable low, reclaim pressure, min_free_kbytes.
MEM_RULES: tuple[Rule, ...] = (low_available_memory, process_memory_growth)
#: Pressure stall information (/proc/pressure/memory).
PSI_RULES: tuple[Rule, ...] = (memory_pressure_stalls,)
#: OOM kills and allocation failures from the kernel log.
OOM_RULES: tuple[Rule, ...] = (oom_kills,)
#: Huge pages (hugetlbfs pools): reserved but unused, surplus, per-node imbalance.
HPG_RULES: tuple[Rule, ...] = (hugepages_reserved_unused,)
#: Fragmentation: buddyinfo high orders, compaction failures.
FRAG_RULES: tuple[Rule, ...] = (high_order_fragmentation,)
#: Dirty page writeback: dirty ratios, writeback stalls.
DRT_RULES: tuple[Rule, ...] = (dirty_writeback_pressure,)
#: Cgroups: memory.max pressure, memory.high throttling, cgroup OOMs.
CGR_RULES: tuple[Rule, ...] = (cgroup_memory_limit,)
#: Page cache: refault thrashing.
PGC_RULES: tuple[Rule, ...] = (page_cache_thrashing,)
#: Reclaim: direct reclaim against kswapd, reclaim efficiency.
RCL_RULES: tuple[Rule, ...] = (reclaim_stalls,)
#: Page allocator: allocation failures, min_free_kbytes and the zone watermarks.
ALLOC_RULES: tuple[Rule, ...] = (page_allocation_failures, watermark_settings)
#: Hung tasks (the kernel's hung-task watchdog) under memory pressure.
HUNG_RULES: tuple[Rule, ...] = (hung_tasks_under_pressure,)
#: Kernel memory: unreclaimable slab, kernel stacks, page tables, per-cpu, vmalloc.
KMEM_RULES: tuple[Rule, ...] = (kernel_memory_growth,)
#: Shared memory: Shmem, tmpfs, /dev/shm.
SHM_RULES: tuple[Rule, ...] = (shmem_growth,)
#: Locked memory: Mlocked, Unevictable, VmLck.
MLK_RULES: tuple[Rule, ...] = (mlocked_growth,)

ALL_RULES: tuple[Rule, ...] = (
    *THP_RULES,
    *FLT_RULES,
    *NUMA_RULES,
    *OVC_RULES,
    *SWP_RULES,
    *MEM_RULES,
    *PSI_RULES,
    *OOM_RULES,
    *HPG_RULES,
    *FRAG_RULES,
    *DRT_RULES,
    *CGR_RULES,
    *PGC_RULES,
    *RCL_RULES,
    *ALLOC_RULES,
    *HUNG_RULES,
    *KMEM_RULES,
    *SHM_RULES,
    *MLK_RULES,
)
