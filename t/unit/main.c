/*
 * t/unit/main.c: the one registry of afd's CUnit suites. Each module's test
 * file (t/unit/test_<module>.c) defines "int suite_<module>(void)" that adds
 * its suite and returns 0 (or -1); list it in suites[] below.
 * Prints CUnit's report, then "unit: N passed, N failed" for t/run-tests.sh.
 * An optional argument runs only the suite of that name.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "schema/db.h"

#define SUITES(X)                                                              \
	X(sip)                                                                 \
	X(stream)                                                              \
	X(torture)                                                             \
	X(sipd)                                                                \
	X(registrar)                                                           \
	X(ipc)                                                                 \
	X(conf)                                                                \
	X(db)                                                                  \
	X(db_sub)                                                              \
	X(proc)                                                                \
	X(core)                                                                \
	X(txn)                                                                 \
	X(reginfo)                                                             \
	X(regevent)                                                            \
	X(regnotify)                                                           \
	X(auth)                                                                \
	X(authgate)                                                            \
	X(db_auth)                                                             \
	X(dialog)

#define DECLARE(name) int suite_##name(void);
SUITES(DECLARE)

static const struct {
	const char *name;
	int (*add)(void);
} suites[] = {
#define ROW(name) {#name, suite_##name},
    SUITES(ROW)};

int
main(int argc, char **argv)
{
	/* as daemon/main.c does, before any suite opens a database */
	(void)db_pcache_setup();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
			continue;
		if (suites[i].add() != 0) {
			fprintf(stderr, "suite %s: setup failed\n",
			        suites[i].name);
			return 2;
		}
	}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	unsigned run = CU_get_number_of_tests_run();
	unsigned failed = CU_get_number_of_tests_failed();
	printf("\nunit: %u passed, %u failed\n", run - failed, failed);
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
