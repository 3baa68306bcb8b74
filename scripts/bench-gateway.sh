#!/usr/bin/env bash
# Gateway benchmark: aws cli and boto3 through `uplink gateway` over a 10-node local
# network (RS 4/6/8/10, TLS): 1 GiB PUT and GET three times (MB/s, CPU seconds of the
# gateway and of the network), the gateway's peak RSS, and 1000 x 4 KiB PUTs from 8
# threads. Needs `cargo build --release -p node-sim -p uplink-core --bins` and the S3
# clients of scripts/test-all.sh (target/s3-clients).
set -euo pipefail
R=${RELEASE_DIR:-$(cd "$(dirname "$0")/.." && pwd)/target/release}
PY=${S3_TEST_PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/target/s3-clients/bin/python}
D=${BENCH_DIR:-$(mktemp -d)}; mkdir -p $D
cd $D
$R/node-sim network up --nodes 10 --dir $D/net --redundancy 4/6/8/10 > $D/net.log 2>&1 &
NET=$!
for i in $(seq 1 100); do [ -s $D/net/access.grant ] && break; sleep 0.5; done
sleep 3
export UPLINK_ACCESS=$(cat $D/net/access.grant)
export UPLINK_CONFIG_DIR=$D/uplink
$R/uplink mb sj://bench >/dev/null
export UPLINK_GATEWAY_ACCESS_KEY=BENCHACCESSKEY000001 UPLINK_GATEWAY_SECRET_KEY=bench-secret-key-long-enough
$R/uplink gateway --listen 127.0.0.1:7711 > $D/gw.log 2>&1 &
GW=$!
sleep 1
head -c 1073741824 /dev/urandom > $D/1g.bin
export AWS_ACCESS_KEY_ID=$UPLINK_GATEWAY_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$UPLINK_GATEWAY_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
aws() { $PY -m awscli --endpoint-url http://127.0.0.1:7711 "$@"; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
tck=$(getconf CLK_TCK)
for run in 1 2 3; do
  g0=$(cpu $GW); n0=$(cpu $NET); t0=$(date +%s.%N)
  aws s3 cp --quiet $D/1g.bin s3://bench/1g-$run.bin
  t1=$(date +%s.%N); g1=$(cpu $GW); n1=$(cpu $NET)
  aws s3 cp --quiet s3://bench/1g-$run.bin $D/back.bin
  t2=$(date +%s.%N); g2=$(cpu $GW); n2=$(cpu $NET)
  cmp $D/1g.bin $D/back.bin
  echo "run $run: PUT $(echo "1073.741824/($t1-$t0)" | bc -l | cut -c1-6) MB/s gateway-cpu $(echo "($g1-$g0)/$tck" | bc -l | cut -c1-5)s network-cpu $(echo "($n1-$n0)/$tck" | bc -l | cut -c1-5)s; GET $(echo "1073.741824/($t2-$t1)" | bc -l | cut -c1-6) MB/s gateway-cpu $(echo "($g2-$g1)/$tck" | bc -l | cut -c1-5)s network-cpu $(echo "($n2-$n1)/$tck" | bc -l | cut -c1-5)s"
  rm -f $D/back.bin
done
echo "gateway peak RSS: $(grep VmHWM /proc/$GW/status)"
# 1000 x 4 KiB PUTs, 8 threads, boto3
$PY - <<'PYEOF'
import boto3, os, time
from concurrent.futures import ThreadPoolExecutor
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:7711", config=Config(s3={"addressing_style": "path"}, max_pool_connections=16))
data = os.urandom(4096)
for run in range(3):
    t = time.time()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket="bench", Key=f"small/{run}/{i}", Body=data), range(1000)))
    print(f"run {run}: 1000 x 4 KiB PUTs, 8 threads: {1000/(time.time()-t):.0f} objects/s")
PYEOF
kill $GW; kill $NET; wait 2>/dev/null || true
