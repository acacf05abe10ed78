#!/usr/bin/python3
# An independent reading of xtapd's /metrics (test_metrics.c): the exposition on
# stdin goes through python3-prometheus-client's parser; prints one line per
# sample, "NAME{k="v",...} VALUE" with the labels sorted, after one line
# "family NAME TYPE" per family. Exits 1 (saying why) when the parser refuses
# the text, or a family has no HELP or no TYPE.
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:  # the parser's own error, whatever its class
    print("parse error: %s" % e)
    sys.exit(1)
for f in families:
    if f.type == "unknown" or not f.documentation:
        print("family %s has no TYPE or no HELP" % f.name)
        sys.exit(1)
    print("family %s %s" % (f.name, f.type))
for f in families:
    for s in f.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        print("%s{%s} %.17g" % (s.name, labels, s.value))
