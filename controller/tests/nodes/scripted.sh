#!/usr/bin/env bash
# A node written outside synod, for the tests: `bash scripted.sh MODE`, run alone
# (`--nodes 1 --trace ops`: it sends no Paxos messages). It learns the first value proposed
# for each instance and tells the controller, as a learner must; what it tells clients
# depends on MODE:
#   mute     never answers a `propose` (no `propose_ok`, no `error`);
#   stutter  answers each `propose` three times: `error busy`, then `propose_ok` with the
#            learned value, then `error busy` again (two late replies to one op);
#   misname  answers each `propose` with `propose_ok` naming the next instance (with the
#            learned value of the op's own), then a `propose_ok` to op 0, never invoked;
#   quit     reads `init`, then exits 1 (a node that dies right after the handshake);
#   farewell never answers a `propose` until SIGTERM, then answers the last one and exits.
# Bash, because CI has bash (.ci/run is a bash script) and bash can dial TCP (/dev/tcp).
set -eu
mode=$1
exec 3<>"/dev/tcp/${SYNOD_CONTROLLER%:*}/${SYNOD_CONTROLLER##*:}"
send() { printf '{"src":%s,"dest":0,"body":%s}\n' "$SYNOD_NODE" "$1" >&3; }
send "{\"type\":\"hello\",\"node\":$SYNOD_NODE,\"token\":\"$SYNOD_TOKEN\"}"
declare -A learned
op=0 instance=0
if [[ $mode == farewell ]]; then
  trap 'send "{\"type\":\"propose_ok\",\"in_reply_to\":$op,\"instance\":$instance,\"value\":\"${learned[$instance]}\"}"; exit 0' TERM
fi
re='"type":"propose","msg_id":([0-9]+),"instance":([0-9]+),"value":"([^"]*)"'
while IFS= read -r line <&3; do
  if [[ $mode == quit && $line == *'"type":"init"'* ]]; then
    exit 1
  fi
  [[ $line =~ $re ]] || continue
  op=${BASH_REMATCH[1]} instance=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
  if [[ -z ${learned[$instance]+set} ]]; then
    learned[$instance]=$value
    send "{\"type\":\"learned\",\"instance\":$instance,\"value\":\"$value\"}"
  fi
  if [[ $mode == stutter ]]; then
    busy="{\"type\":\"error\",\"in_reply_to\":$op,\"code\":\"busy\",\"text\":\"stutter\"}"
    send "$busy"
    send "{\"type\":\"propose_ok\",\"in_reply_to\":$op,\"instance\":$instance,\"value\":\"${learned[$instance]}\"}"
    send "$busy"
  fi
  if [[ $mode == misname ]]; then
    send "{\"type\":\"propose_ok\",\"in_reply_to\":$op,\"instance\":$((instance + 1)),\"value\":\"${learned[$instance]}\"}"
    send "{\"type\":\"propose_ok\",\"in_reply_to\":0,\"instance\":$instance,\"value\":\"${learned[$instance]}\"}"
  fi
done
