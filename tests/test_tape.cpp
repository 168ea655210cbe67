// The tape's contract: gradients accumulate, stop-gradient and no_grad cut the graph, a tape is
// consumed by one backward, and misuse throws an error that names the op and the shapes.
#include "framework/backend.h"
#include "framework/check.h"
#include "tests/testing.h"

using namespace dale;
using dale::test::expect_close;

static Tensor leaf(std::vector<float> v, Shape s) {
  Tensor t = Tensor::from_vector(v, s);
  t.set_requires_grad(true);
  return t;
}

TEST_CASE("gradients accumulate across backward passes until zeroed") {
  Tensor x = leaf({1, -2, 3}, {3});
  backward(sum(square(x)));
  expect_close(x.grad().to_vector(), {2, -4, 6}, 0, 0, "first pass");
  backward(sum(square(x)));
  expect_close(x.grad().to_vector(), {4, -8, 12}, 0, 0, "accumulated");
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  backward(sum(x));
  expect_close(x.grad().to_vector(), {1, 1, 1}, 0, 0, "after zeroing");
}

TEST_CASE("a tensor used twice receives both contributions") {
  Tensor x = leaf({1.5f, -2.f}, {2});
  backward(sum(mul(x, x)));  // d/dx x² = 2x, one contribution per use
  expect_close(x.grad().to_vector(), {3.f, -4.f}, 0, 0, "x·x");
}

TEST_CASE("stop_grad: forward identity, no gradient through it") {
  Tensor x = leaf({1, 2}, {2});
  Tensor s = stop_grad(x);
  expect_close(s.to_vector(), {1, 2}, 0, 0, "sg forward");
  CHECK_FALSE(s.requires_grad());
  // y = x + sg(x)²: only the first term reaches x
  backward(sum(add(x, square(s))));
  expect_close(x.grad().to_vector(), {1, 1}, 0, 0, "sg backward");
}

TEST_CASE("no_grad records nothing") {
  Tensor x = leaf({1, 2}, {2});
  tape_reset();
  {
    NoGrad ng;
    Tensor y = square(x);
    CHECK_FALSE(y.requires_grad());
    CHECK(tape_size() == 0);
    CHECK_THROWS_WITH_AS(backward(sum(y)), doctest::Contains("does not depend"), Error);
  }
  Tensor y = square(x);
  CHECK(tape_size() == 1);
  CHECK(y.requires_grad());
  tape_reset();
}

TEST_CASE("backward twice, on a non-scalar, or on a constant is an error") {
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = sum(square(x));
  backward(loss);
  CHECK_THROWS_WITH_AS(backward(loss), doctest::Contains("already consumed"), Error);
  CHECK_THROWS_WITH_AS(backward(square(x)), doctest::Contains("scalar"), Error);
  tape_reset();
  CHECK_THROWS_WITH_AS(backward(sum(Tensor::zeros({2}))), doctest::Contains("does not depend"),
                       Error);
}

TEST_CASE("misuse names the op and the shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 2});
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("add: shapes [2, 3] and [3, 2] differ"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, a), doctest::Contains("matmul: inner dimensions differ"), Error);
  CHECK_NOTHROW(matmul(a, a, false, true));
  CHECK_THROWS_WITH_AS(add_bias(a, Tensor::zeros({2})), doctest::Contains("add_bias"), Error);
  CHECK_THROWS_WITH_AS(sqrt(Tensor::from_vector({1, -4}, {2})),
                       doctest::Contains("sqrt: element 1 of the [2] input is -4"), Error);
  CHECK_THROWS_WITH_AS(div(a, a), doctest::Contains("div"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(a, Tensor::zeros({3}), 0.1f), doctest::Contains("one label per row"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(a, Tensor::from_vector({0, 7}, {2}), 0.1f),
                       doctest::Contains("label 7"), Error);
  CHECK_THROWS_WITH_AS(error_normalize(a, ErrNorm::FaCenter), doctest::Contains("fa_center"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({1, 2, 3, 4}), doctest::Contains("rank"), Error);
  CHECK_THROWS_WITH_AS(sum(Tensor::zeros({1}).grad()), doctest::Contains("undefined"), Error);
  tape_reset();
}

TEST_CASE("a device without a backend is refused with a clear message") {
  if (backend_available(Device::CUDA)) return;  // built with CUDA and a GPU: nothing to refuse
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}, Device::CUDA), doctest::Contains("device cuda"),
                       InputError);
}

TEST_CASE("parameters carry a name, a group and a frozen flag") {
  Tensor w = Tensor::zeros({3, 4});
  w.as_parameter("fc0.Wex", Group::Wex);
  CHECK(w.requires_grad());
  CHECK(w.name() == "fc0.Wex");
  CHECK(std::string(group_name(w.group())) == "wex");
  CHECK_FALSE(w.frozen());
  Tensor bei = Tensor::zeros({1});
  bei.as_parameter("fc0.Bei", Group::Bei, true);
  CHECK(bei.frozen());
  CHECK_FALSE(bei.requires_grad());
}

TEST_CASE("host round trip and shapes") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.rows() == 2);
  CHECK(t.cols() == 3);
  CHECK(t.shape().str() == "[2, 3]");
  Tensor r3 = Tensor::zeros({4, 2, 3});
  CHECK(r3.rows() == 8);
  Tensor c = t.clone();
  c.copy_from(std::vector<float>{0, 0, 0, 0, 0, 0});
  expect_close(t.to_vector(), {1, 2, 3, 4, 5, 6}, 0, 0, "clone does not share storage");
}
