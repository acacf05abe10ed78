// SPDX-License-Identifier: GPL-2.0
#include "rules.h"
#include "tests.h"

XTAP_TEST_LIST(ip_options);
