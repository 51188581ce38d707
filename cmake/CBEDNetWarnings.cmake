# Options applied to project code only (never to third-party headers or generated code).
add_library(cbednet_project_options INTERFACE)
target_compile_options(cbednet_project_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wno-error=deprecated-declarations>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra -Werror=all-warnings>)
if(CBEDNET_SANITIZE)
  target_compile_options(cbednet_project_options INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
    -Wno-maybe-uninitialized>)  # GCC 12 + ASan: false positives in <regex>
  target_link_options(cbednet_project_options INTERFACE -fsanitize=address,undefined)
endif()
