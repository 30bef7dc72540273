# Extra wiring for the EC2 face (included from src/CMakeLists.txt after the modules): with
# VBS_FUZZ=ON and clang, the libFuzzer target vbs_ec2_fuzz (ec2_fuzz.cc) over the parsers that
# run before authentication (tests/ec2/fuzz.sh runs it for a bounded time). It compiles just
# those sources, instrumented, over vbs_common: a small build.
if(VBS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VBS_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  set(here ${CMAKE_CURRENT_LIST_DIR})
  add_executable(vbs_ec2_fuzz ${here}/ec2_fuzz.cc ${here}/params.cc ${here}/filters.cc
                              ${here}/pagination.cc ${here}/../../auth/sigv4.cc
                              ${here}/../http_request.cc)
  target_include_directories(vbs_ec2_fuzz PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(vbs_ec2_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(vbs_ec2_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(vbs_ec2_fuzz PRIVATE vbs_common OpenSSL::Crypto)
endif()

# Test only: the handler tests (handlers_test.cc) run the EC2 handlers over core on a real
# SQLite store (core/core_test_util.h), as core's own tests do.
if(TARGET vbs_api_ec2_test)
  target_link_libraries(vbs_api_ec2_test PRIVATE vbs_store_sqlite)
endif()
