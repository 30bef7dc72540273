# Extra wiring for the EC2 face (included from src/CMakeLists.txt after the modules): with
# VBS_FUZZ=ON and clang, the libFuzzer target vbs_ec2_fuzz (ec2_fuzz.cc) over the parsers that
# run before authentication (tests/ec2/fuzz.sh runs it for a bounded time).
if(VBS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VBS_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  foreach(lib vbs_api_ec2 vbs_auth vbs_api)  # coverage for what the harness calls
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  endforeach()
  add_executable(vbs_ec2_fuzz ${CMAKE_CURRENT_LIST_DIR}/ec2_fuzz.cc)
  target_compile_options(vbs_ec2_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(vbs_ec2_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(vbs_ec2_fuzz PRIVATE vbs_api_ec2)
endif()
