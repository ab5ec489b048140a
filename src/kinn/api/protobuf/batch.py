"""batch/v1 messages (k8s.io/api/batch/v1/generated.proto): Job and CronJob.

Pod failure and success policies are not described (skipped when sent); `kubectl create job|cronjob`
never sets them.
"""

from kinn.api.protobuf.schema import define

API_VERSION = "batch/v1"
KINDS = ("Job", "CronJob")

define("Job", {
    1: "metadata ObjectMeta",
    2: "spec JobSpec",
    3: "status JobStatus",
})
define("JobSpec", {
    1: "parallelism int32?",
    2: "completions int32?",
    3: "activeDeadlineSeconds int64?",
    7: "backoffLimit int32?",
    12: "backoffLimitPerIndex int32?",
    13: "maxFailedIndexes int32?",
    4: "selector LabelSelector?",
    5: "manualSelector bool?",
    6: "template PodTemplateSpec",
    8: "ttlSecondsAfterFinished int32?",
    9: "completionMode string?",
    10: "suspend bool?",
    14: "podReplacementPolicy string?",
    15: "managedBy string?",
})
define("JobStatus", {
    2: "startTime Time?",
    3: "completionTime Time?",
    4: "active int32",
    5: "succeeded int32",
    6: "failed int32",
    11: "terminating int32?",
    7: "completedIndexes string",
    10: "failedIndexes string?",
    9: "ready int32?",
})
define("CronJob", {
    1: "metadata ObjectMeta",
    2: "spec CronJobSpec",
    3: "status CronJobStatus",
})
define("CronJobSpec", {
    1: "schedule string!",
    8: "timeZone string?",
    2: "startingDeadlineSeconds int64?",
    3: "concurrencyPolicy string",
    4: "suspend bool?",
    5: "jobTemplate JobTemplateSpec",
    6: "successfulJobsHistoryLimit int32?",
    7: "failedJobsHistoryLimit int32?",
})
define("JobTemplateSpec", {
    1: "metadata ObjectMeta",
    2: "spec JobSpec",
})
define("CronJobStatus", {
    1: "active []ObjectReference",
    4: "lastScheduleTime Time?",
    5: "lastSuccessfulTime Time?",
})
