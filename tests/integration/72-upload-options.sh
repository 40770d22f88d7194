#!/usr/bin/env bash
# Issue 3, behaviour 10 to 13, at DEPTH 0 to 3, without and with
# CONTEXT_PATH: ALLOW_OVERWRITE, MAX_STORAGE_OBJECTS, PER_CHART_LIMIT (raw
# and multipart) and MAX_UPLOAD_SIZE.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/compat.sh"

first=$(compat_chart mychart 0.1.0 "replicas: 1" a)
second=$(compat_chart mychart 0.1.0 "replicas: 1" b)
second_prov=$(compat_prov "$second")
second_digest=$(sha256 "$second")
other=$(compat_chart otherchart 1.0.0)
other_prov=$(compat_prov "$other")
for n in rawchart formchart; do
	for v in 0.0.1 0.2.0 0.1.0; do compat_chart "$n" "$v" >/dev/null; done
	compat_chart "$n-service" 0.0.1 >/dev/null
	compat_prov "$TMP/charts/$n-0.0.1.tgz" >/dev/null
done

for cfg in "${COMPAT_CONFIGS[@]}"; do
	# 10 and 11: overwrite always, one object per repo.
	compat_start "$cfg" ALLOW_OVERWRITE=1 MAX_STORAGE_OBJECTS=1 || continue
	dir=$STORAGE${P}
	check_jq "$C, ALLOW_OVERWRITE: a raw upload answers 201" 201 '. == {"saved": true}' \
		--data-binary "@$first" "$BASE$A/charts"
	check_jq "$C, ALLOW_OVERWRITE: the same version again, other bytes, answers 201" 201 '. == {"saved": true}' \
		--data-binary "@$second" "$BASE$A/charts"
	check_jq "$C, ALLOW_OVERWRITE: the API holds one entry for 0.1.0, with the new digest" 200 \
		"length == 1 and .[0].version == \"0.1.0\" and .[0].digest == \"$second_digest\"" "$BASE$A/charts/mychart"
	check "$C, ALLOW_OVERWRITE: index.yaml holds one entry for 0.1.0, with the new digest" \
		test "$(index_query "$BASE$P/index.yaml" "[(e['version'], e['digest']) for e in i['entries']['mychart']]")" = \
		"[('0.1.0', '$second_digest')]"
	check "$C, ALLOW_OVERWRITE: the stored file is the new one" cmp -s "$second" "$dir/mychart-0.1.0.tgz"
	check_jq "$C, MAX_STORAGE_OBJECTS=1: the chart's prov joins its slot: 201" 201 '. == {"saved": true}' \
		--data-binary "@$second_prov" "$BASE$A/prov"
	check_jq "$C, MAX_STORAGE_OBJECTS=1: another chart answers 507" 507 \
		'. == {"error": "repo has reached storage limit"}' --data-binary "@$other" "$BASE$A/charts"
	check_jq "$C, MAX_STORAGE_OBJECTS=1: its prov answers 507" 507 \
		'. == {"error": "repo has reached storage limit"}' --data-binary "@$other_prov" "$BASE$A/prov"
	check_jq "$C, MAX_STORAGE_OBJECTS=1: another chart by multipart answers 507" 507 \
		'. == {"error": "repo has reached storage limit"}' -F "chart=@$other" "$BASE$A/charts"
	check "$C, MAX_STORAGE_OBJECTS=1: nothing of otherchart is stored" test ! -e "$dir/otherchart-1.0.0.tgz" -a ! -e "$dir/otherchart-1.0.0.tgz.prov"

	# 12: PER_CHART_LIMIT keeps the two newest versions by SemVer.
	compat_start "$cfg" PER_CHART_LIMIT=2 || continue
	dir=$STORAGE${P}
	for n in rawchart formchart; do
		for f in "$n-service-0.0.1" "$n-0.0.1" "$n-0.2.0" "$n-0.1.0"; do
			if [ "$n" = rawchart ]; then
				check_status "$C, PER_CHART_LIMIT=2: raw upload of $f answers 201" 201 \
					--data-binary "@$TMP/charts/$f.tgz" "$BASE$A/charts"
				[ "$f" != "$n-0.0.1" ] || check_status "$C, PER_CHART_LIMIT=2: raw prov of $f answers 201" 201 \
					--data-binary "@$TMP/charts/$f.tgz.prov" "$BASE$A/prov"
			elif [ "$f" = "$n-0.0.1" ]; then
				check_status "$C, PER_CHART_LIMIT=2: multipart upload of $f with its prov answers 201" 201 \
					-F "chart=@$TMP/charts/$f.tgz" -F "prov=@$TMP/charts/$f.tgz.prov" "$BASE$A/charts"
			else
				check_status "$C, PER_CHART_LIMIT=2: multipart upload of $f answers 201" 201 \
					-F "chart=@$TMP/charts/$f.tgz" "$BASE$A/charts"
			fi
		done
		check_status "$C, PER_CHART_LIMIT=2: $n 0.2.0 answers 200" 200 "$BASE$A/charts/$n/0.2.0"
		check_status "$C, PER_CHART_LIMIT=2: $n 0.1.0 answers 200" 200 "$BASE$A/charts/$n/0.1.0"
		check_status "$C, PER_CHART_LIMIT=2: $n 0.0.1 answers 404" 404 "$BASE$A/charts/$n/0.0.1"
		check_status "$C, PER_CHART_LIMIT=2: $n-service 0.0.1 answers 200" 200 "$BASE$A/charts/$n-service/0.0.1"
		check "$C, PER_CHART_LIMIT=2: $n-0.0.1.tgz and its .prov are deleted" \
			test ! -e "$dir/$n-0.0.1.tgz" -a ! -e "$dir/$n-0.0.1.tgz.prov" -a -f "$dir/$n-0.1.0.tgz"
		check "$C, PER_CHART_LIMIT=2: the index lists $n 0.2.0 and 0.1.0 only" \
			test "$(index_versions "$BASE$P/index.yaml" "$n")" = "0.2.0 0.1.0"
	done

	# 13: MAX_UPLOAD_SIZE, answered by nginx before the worker reads a byte.
	compat_start "$cfg" MAX_UPLOAD_SIZE=1 || continue
	check_jq "$C, MAX_UPLOAD_SIZE=1: a raw chart answers 413 with a JSON error" 413 '.error | type == "string"' \
		--data-binary "@$other" "$BASE$A/charts"
	check_jq "$C, MAX_UPLOAD_SIZE=1: a raw prov answers 413 with a JSON error" 413 '.error | type == "string"' \
		--data-binary "@$other_prov" "$BASE$A/prov"
	check_jq "$C, MAX_UPLOAD_SIZE=1: a multipart upload answers 413 with a JSON error" 413 '.error | type == "string"' \
		-F "chart=@$other" -F "prov=@$other_prov" "$BASE$A/charts"
	check "$C, MAX_UPLOAD_SIZE=1: nothing is stored" test -z "$(storage_files)"
done

finish
