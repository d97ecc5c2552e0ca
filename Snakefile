# filterdb: rebuild the CNN Filter DB (Gavrikov & Keuper, CVPR 2022) and its analyses.
# DAG: model zoo -> download -> per-model 3x3 filter extraction -> database
#      -> Dask-parallel statistics -> figures (+ Snakemake HTML report).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "rules/report/workflow.rst"


include: "rules/common.smk"


# Downloads need the internet, which compute nodes often lack: keep them on the submit host in
# cluster runs unless the config says otherwise (no effect on local runs).
if config["cluster"]["download_local"]:

    localrules:
        download_model,


if DB_SOURCE == "zoo":

    include: "rules/download.smk"
    include: "rules/extract.smk"
    include: "rules/assemble.smk"


include: "rules/published.smk"
include: "rules/statistics.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
