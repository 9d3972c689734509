# t/bench/provision.sh: sourced by bench.sh and tail.sh.
#
# provision_afd DB FIRST COUNT DOMAIN: subscribers for regload's AORs
# FIRST..FIRST+COUNT-1 in afd's database DB (impi IMSI@DOMAIN, IMSI =
# 1010000000000 + AOR index; password "bench-pw" for Digest, K and OPc of
# TS 35.208 test set 1 for AKA, as t/bench/benchauth.h answers). The WAL is
# then checkpointed and truncated by the same sqlite3 session, so that the
# run that follows does not pay for the provisioning.
provision_afd() {
	sqlite3 -cmd ".timeout 30000" "$1" "WITH RECURSIVE c(i) AS (SELECT $2
	    UNION ALL SELECT i + 1 FROM c WHERE i < $2 + $3 - 1)
	    INSERT OR IGNORE INTO subscribers (impi, impu, password, k, opc)
	    SELECT printf('%015d@$4', 1010000000000 + i),
	    printf('sip:%015d@$4', 1010000000000 + i), 'bench-pw',
	    '465b5ce8b199b49faa5f0a2ee238a6bc',
	    'cd63cb71954a9f4e48a5994e37a02baf' FROM c;
	    PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
}
