// Copyright 2026 The dataloader Authors.
//
// Must NOT compile: the stage takes a std::string but the source yields ints. The test
// PipelineBuilderTest.MismatchedStageDoesNotCompile checks that the compiler's message is the
// builder's readable static_assert.
#include <ranges>
#include <string>

#include "core/pipeline_builder.h"

int main() {
  auto built = dataloader::PipelineBuilder<>()
                   .AddSource(std::views::iota(0, 10))
                   .Pipe([](std::string s) { return s.size(); })
                   .AddSink(1)
                   .Build();
  return built.ok() ? 0 : 1;
}
