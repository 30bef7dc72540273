# Extra wiring for the NBD module (included from src/CMakeLists.txt after the modules).
# - the server tests also run against the real FileDevice;
# - with VBS_FUZZ=ON and clang, the libFuzzer target vbs_nbd_fuzz (nbd_fuzz.cc) and a ctest
#   that runs it for a bounded time.
if(TARGET vbs_nbd_test)
  target_link_libraries(vbs_nbd_test PRIVATE vbs_backend_dir)
endif()

if(VBS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VBS_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  # Coverage instrumentation for the code under test, not only the harness.
  target_compile_options(vbs_nbd PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  add_executable(vbs_nbd_fuzz ${CMAKE_CURRENT_LIST_DIR}/nbd_fuzz.cc)
  target_compile_options(vbs_nbd_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(vbs_nbd_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(vbs_nbd_fuzz PRIVATE vbs_nbd)
  set(VBS_NBD_FUZZ_SECONDS 45 CACHE STRING "How long ctest runs the NBD fuzzer")
  # New inputs go to a scratch corpus in the build tree; the seeds in the source stay as is.
  set(scratch ${CMAKE_BINARY_DIR}/nbd_fuzz_corpus)
  file(MAKE_DIRECTORY ${scratch})
  add_test(NAME vbs_nbd_fuzz
           COMMAND $<TARGET_FILE:vbs_nbd_fuzz> -max_total_time=${VBS_NBD_FUZZ_SECONDS}
                   -max_len=4096 -timeout=10 -rss_limit_mb=2048
                   ${scratch} ${CMAKE_CURRENT_LIST_DIR}/fuzz_corpus)
  set_tests_properties(vbs_nbd_fuzz PROPERTIES LABELS fuzz TIMEOUT 600)
endif()
