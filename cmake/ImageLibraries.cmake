# Image codecs and resizers from Debian 12, as imported targets:
#   turbojpeg::turbojpeg      (libturbojpeg0-dev; pkg-config. Its CMake config is not used:
#                              it also demands libjpeg.a from libjpeg62-turbo-dev.)
#   spng::spng                (libspng-dev; pkg-config)
#   opencv::imgproc           (libopencv-imgproc-dev; Debian ships no CMake config or .pc
#                              without the whole libopencv-dev, so found by path)
#   libyuv::libyuv            (libyuv-dev; found by path; used only to compare resizers)
find_package(PkgConfig REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
add_library(turbojpeg::turbojpeg ALIAS PkgConfig::TURBOJPEG)
pkg_check_modules(SPNG REQUIRED IMPORTED_TARGET spng)
add_library(spng::spng ALIAS PkgConfig::SPNG)

find_path(OPENCV_INCLUDE_DIR opencv2/imgproc.hpp PATH_SUFFIXES opencv4 REQUIRED)
find_library(OPENCV_IMGPROC_LIBRARY opencv_imgproc REQUIRED)
find_library(OPENCV_CORE_LIBRARY opencv_core REQUIRED)
add_library(opencv::imgproc INTERFACE IMPORTED)
target_include_directories(opencv::imgproc SYSTEM INTERFACE ${OPENCV_INCLUDE_DIR})
target_link_libraries(opencv::imgproc INTERFACE ${OPENCV_IMGPROC_LIBRARY} ${OPENCV_CORE_LIBRARY})

find_path(LIBYUV_INCLUDE_DIR libyuv.h REQUIRED)
find_library(LIBYUV_LIBRARY yuv REQUIRED)
add_library(libyuv::libyuv INTERFACE IMPORTED)
target_include_directories(libyuv::libyuv SYSTEM INTERFACE ${LIBYUV_INCLUDE_DIR})
target_link_libraries(libyuv::libyuv INTERFACE ${LIBYUV_LIBRARY})
