/* Helpers shared by czero's tests. Each concern adds its own support_<x>.c/.h beside this file. */
#ifndef CZ_TEST_SUPPORT_H
#define CZ_TEST_SUPPORT_H
#endif
