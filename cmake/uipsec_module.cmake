# uipsec_module(): one folder under src/ = one static library with its tests, fuzz targets and
# benchmarks beside it. DEPS is the list of uipsec modules the library may include; the layering
# test (tests/layering_test.py) checks every #include against it.
#
#   uipsec_module(esp
#     SOURCES replay_window.cpp ...
#     DEPS base crypto                      # uipsec modules, without the uipsec_ prefix
#     LIBS OpenSSL::Crypto                  # external libraries
#     TESTS replay_window_test.cpp ...      # one gtest binary per module: uipsec_esp_test
#     FUZZERS replay_window_fuzz.cpp ...    # one binary each; corpus in fuzz_corpus/<name>/
#     BENCHMARKS esp_bench.cpp)             # one binary per module: uipsec_esp_bench

function(uipsec_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS;TESTS;FUZZERS;BENCHMARKS" ${ARGN})
  set(target uipsec_${name})
  set(dep_targets "")
  foreach(dep IN LISTS M_DEPS)
    list(APPEND dep_targets uipsec_${dep})
  endforeach()

  if(M_SOURCES)
    add_library(${target} STATIC ${M_SOURCES})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${dep_targets} ${M_LIBS})
    target_compile_options(${target} PRIVATE ${UIPSEC_WARNINGS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} INTERFACE ${dep_targets} ${M_LIBS})
  endif()
  set_property(GLOBAL APPEND PROPERTY UIPSEC_MODULES ${name})
  set_property(GLOBAL PROPERTY UIPSEC_DEPS_${name} "${M_DEPS}")

  if(UIPSEC_TESTS AND M_TESTS)
    add_executable(${target}_test ${M_TESTS})
    target_link_libraries(${target}_test PRIVATE ${target} GTest::gtest GTest::gtest_main GTest::gmock)
    target_compile_options(${target}_test PRIVATE ${UIPSEC_WARNINGS})
    gtest_discover_tests(${target}_test DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
  endif()

  if(UIPSEC_TESTS OR UIPSEC_FUZZ)
    foreach(fuzz_source IN LISTS M_FUZZERS)
      get_filename_component(fuzz_name ${fuzz_source} NAME_WE)
      set(fuzz_target uipsec_${fuzz_name})
      set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_corpus/${fuzz_name})
      if(UIPSEC_FUZZ)
        add_executable(${fuzz_target} ${fuzz_source})
        set_property(GLOBAL APPEND PROPERTY UIPSEC_FUZZ_TARGETS ${fuzz_target})
        target_compile_options(${fuzz_target} PRIVATE -fsanitize=fuzzer)
        target_link_options(${fuzz_target} PRIVATE -fsanitize=fuzzer)
        target_link_libraries(${fuzz_target} PRIVATE ${target})
        # A short coverage-guided run from the checked-in seed corpus; new inputs go to a scratch
        # folder in the build tree so the source tree stays clean.
        set(scratch ${CMAKE_CURRENT_BINARY_DIR}/fuzz_scratch/${fuzz_name})
        file(MAKE_DIRECTORY ${scratch})
        add_test(NAME fuzz.${fuzz_name}
                 COMMAND ${fuzz_target} -max_total_time=${UIPSEC_FUZZ_SECONDS} -print_final_stats=1
                         ${scratch} ${corpus})
        set_tests_properties(fuzz.${fuzz_name} PROPERTIES LABELS fuzz TIMEOUT 600)
      else()
        # Without libFuzzer the harness replays its seed corpus: it must build and must not crash
        # on the inputs that once mattered.
        add_executable(${fuzz_target} ${fuzz_source} ${PROJECT_SOURCE_DIR}/src/base/fuzz_replay_main.cpp)
        target_link_libraries(${fuzz_target} PRIVATE ${target})
        target_compile_options(${fuzz_target} PRIVATE ${UIPSEC_WARNINGS})
        add_test(NAME corpus.${fuzz_name} COMMAND ${fuzz_target} ${corpus})
        set_tests_properties(corpus.${fuzz_name} PROPERTIES LABELS corpus)
      endif()
    endforeach()
  endif()

  if(UIPSEC_BENCHMARKS AND M_BENCHMARKS)
    add_executable(${target}_bench ${M_BENCHMARKS})
    target_link_libraries(${target}_bench PRIVATE ${target} benchmark::benchmark benchmark::benchmark_main)
    target_compile_options(${target}_bench PRIVATE ${UIPSEC_WARNINGS})
    if(UIPSEC_TESTS)
      # Benchmarks reuse the modules' test fixtures (*_test_support.hpp), which include gtest.
      target_link_libraries(${target}_bench PRIVATE GTest::gtest)
    endif()
  endif()
endfunction()
