/* nn: conformance with ONNX's own backend test cases (node tests and the
 * pytorch-converted Conv/Pool/BatchNorm/Linear cases) through the importer
 * and the plaintext reference, at parley's default (l, s) = (37, 12).
 *
 * Each list names the cases of an operator family; an entry with a reason
 * is a case parley does not support, and the test checks that loading it
 * fails with that reason in the message (so the docs' list of skipped cases
 * stays true). Every supported case also runs through the secure executor
 * (both parties in this process, OT mode; HE mode too for the families with
 * linear layers), whose output must equal the reference's bit for bit and
 * whose bytes, layer by layer, must equal nn/cost's prediction. */
#include "conf.h"
#include "harness.h"
#include "secure.h"

#include "nn/hello.h"

#include "util/err.h"
#include "util/mem.h"

#include <string.h>

#ifndef PARLEY_ONNX_TESTDATA
#define PARLEY_ONNX_TESTDATA "/usr/share/libonnx-testdata/data"
#endif

typedef struct entry {
    const char *name; /* directory under data/ */
    const char *skip; /* NULL: must pass; else a substring of the expected load error */
} entry;

static void run_list(const entry *list, size_t n, conf_interp f, void *ctx, int he) {
    for (size_t i = 0; i < n; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", PARLEY_ONNX_TESTDATA, list[i].name);
        conf_case c;
        int rc = conf_load(&c, dir, 37, 12);
        if (list[i].skip) {
            CHECK_MSG(rc < 0 && strstr(err_msg(), list[i].skip),
                      "%s: expected a load error with '%s', got %d: %s", list[i].name, list[i].skip,
                      rc, rc < 0 ? err_msg() : "loaded");
            if (rc == 0) conf_free(&c);
            continue;
        }
        if (rc < 0) {
            CHECK_MSG(0, "%s: %s", list[i].name, err_msg());
            continue;
        }
        double err, bound;
        rc = conf_check(&c, f, ctx, &err, &bound);
        CHECK_MSG(rc == 0, "%s: %s", list[i].name, err_msg());
        printf("  %-58s max error %.3g (bound %.3g)\n", list[i].name, err, bound);
        /* The secure executor: bit-exact against the reference. */
        uint64_t *want = NULL;
        rc = conf_interp_ref(NULL, &want, c.net, c.x);
        CHECK_MSG(rc == 0, "%s: reference: %s", list[i].name, err_msg());
        for (int mode = MODE_OT; mode <= (he ? MODE_HE : MODE_OT) && rc == 0; mode++) {
            secure_costs costs;
            secure_cfg cfg = {.mode = mode, .lanes = 1 + (unsigned)(i % 2), .costs = &costs};
            uint64_t *got = NULL;
            int src = conf_interp_secure(&cfg, &got, c.net, c.x);
            CHECK_MSG(src == 0, "%s: secure (%s): %s", list[i].name, mode ? "he" : "ot", err_msg());
            if (src == 0) {
                CHECK_MSG(conf_same(c.net, want, got), "%s: secure (%s) differs from the reference",
                          list[i].name, mode ? "he" : "ot");
                /* nn/cost predicts every byte of it. */
                CHECK_MSG(secure_check_costs(c.net, &cfg, &costs) == 0, "%s: %s mode, %u lanes: %s",
                          list[i].name, mode ? "he" : "ot", cfg.lanes, err_msg());
            }
            exec_report_free(&costs.rep);
            mem_free(got);
        }
        mem_free(want);
        conf_free(&c);
    }
}

#define RUN(list) run_list(list, sizeof list / sizeof *list, conf_interp_ref, NULL, 0)
#define RUN_HE(list) run_list(list, sizeof list / sizeof *list, conf_interp_ref, NULL, 1)

TEST(conv) {
    static const entry l[] = {
        {"node/test_basic_conv_with_padding", NULL},
        {"node/test_basic_conv_without_padding", NULL},
        {"node/test_conv_with_autopad_same", NULL},
        {"node/test_conv_with_strides_and_asymmetric_padding", NULL},
        {"node/test_conv_with_strides_no_padding", NULL},
        {"node/test_conv_with_strides_padding", NULL},
        {"pytorch-converted/test_Conv1d", NULL},
        {"pytorch-converted/test_Conv1d_dilated", NULL},
        {"pytorch-converted/test_Conv1d_groups", NULL},
        {"pytorch-converted/test_Conv1d_pad1", NULL},
        {"pytorch-converted/test_Conv1d_pad1size1", NULL},
        {"pytorch-converted/test_Conv1d_pad2", NULL},
        {"pytorch-converted/test_Conv1d_pad2size1", NULL},
        {"pytorch-converted/test_Conv1d_stride", NULL},
        {"pytorch-converted/test_Conv2d", NULL},
        {"pytorch-converted/test_Conv2d_depthwise", NULL},
        {"pytorch-converted/test_Conv2d_depthwise_padded", NULL},
        {"pytorch-converted/test_Conv2d_depthwise_strided", NULL},
        {"pytorch-converted/test_Conv2d_depthwise_with_multiplier", NULL},
        {"pytorch-converted/test_Conv2d_dilated", NULL},
        {"pytorch-converted/test_Conv2d_groups", NULL},
        {"pytorch-converted/test_Conv2d_groups_thnn", NULL},
        {"pytorch-converted/test_Conv2d_no_bias", NULL},
        {"pytorch-converted/test_Conv2d_padding", NULL},
        {"pytorch-converted/test_Conv2d_strided", NULL},
        {"pytorch-converted/test_Conv3d", "3-D convolutions"},
        {"pytorch-converted/test_Conv3d_dilated", "3-D convolutions"},
        {"pytorch-converted/test_Conv3d_dilated_strided", "3-D convolutions"},
        {"pytorch-converted/test_Conv3d_groups", "3-D convolutions"},
        {"pytorch-converted/test_Conv3d_no_bias", "3-D convolutions"},
        {"pytorch-converted/test_Conv3d_stride", "3-D convolutions"},
        {"pytorch-converted/test_Conv3d_stride_padding", "3-D convolutions"},
    };
    RUN_HE(l);
}

TEST(gemm_matmul) {
    static const entry l[] = {
        {"node/test_gemm_all_attributes", NULL},
        {"node/test_gemm_alpha", NULL},
        {"node/test_gemm_beta", NULL},
        {"node/test_gemm_default_matrix_bias", NULL},
        {"node/test_gemm_default_no_bias", NULL},
        {"node/test_gemm_default_scalar_bias", NULL},
        {"node/test_gemm_default_single_elem_vector_bias", NULL},
        {"node/test_gemm_default_vector_bias", NULL},
        {"node/test_gemm_default_zero_bias", NULL},
        {"node/test_gemm_transposeA", NULL},
        {"node/test_gemm_transposeB", NULL},
        {"node/test_matmul_2d", NULL},
        {"node/test_matmul_3d", "differs per batch"},
        {"node/test_matmul_4d", "differs per batch"},
        {"pytorch-converted/test_Linear", NULL},
        {"pytorch-converted/test_Linear_no_bias", NULL},
    };
    RUN_HE(l);
}

TEST(relu_add) {
    static const entry l[] = {
        {"node/test_relu", NULL},
        {"pytorch-converted/test_ReLU", NULL},
        {"node/test_add", NULL},
        {"node/test_add_bcast", NULL},
        {"node/test_add_uint8", "element type uint8"},
    };
    RUN(l);
}

TEST(maxpool) {
    static const entry l[] = {
        {"node/test_maxpool_1d_default", NULL},
        {"node/test_maxpool_2d_ceil", NULL},
        {"node/test_maxpool_2d_default", NULL},
        {"node/test_maxpool_2d_dilations", NULL},
        {"node/test_maxpool_2d_pads", NULL},
        {"node/test_maxpool_2d_precomputed_pads", NULL},
        {"node/test_maxpool_2d_precomputed_same_upper", NULL},
        {"node/test_maxpool_2d_precomputed_strides", NULL},
        {"node/test_maxpool_2d_same_lower", NULL},
        {"node/test_maxpool_2d_same_upper", NULL},
        {"node/test_maxpool_2d_strides", NULL},
        {"node/test_maxpool_2d_uint8", "element type uint8"},
        {"node/test_maxpool_3d_default", "3-D pooling"},
        {"node/test_maxpool_with_argmax_2d_precomputed_pads", "2 outputs"},
        {"node/test_maxpool_with_argmax_2d_precomputed_strides", "2 outputs"},
        {"pytorch-converted/test_MaxPool1d", NULL},
        {"pytorch-converted/test_MaxPool1d_stride", NULL},
        {"pytorch-converted/test_MaxPool1d_stride_padding_dilation", NULL},
        {"pytorch-converted/test_MaxPool2d", NULL},
        {"pytorch-converted/test_MaxPool2d_stride_padding_dilation", NULL},
        {"pytorch-converted/test_MaxPool3d", "3-D pooling"},
        {"pytorch-converted/test_MaxPool3d_stride", "3-D pooling"},
        {"pytorch-converted/test_MaxPool3d_stride_padding", "3-D pooling"},
    };
    RUN(l);
}

TEST(avgpool) {
    static const entry l[] = {
        {"node/test_averagepool_1d_default", NULL},
        {"node/test_averagepool_2d_ceil", NULL},
        {"node/test_averagepool_2d_default", NULL},
        {"node/test_averagepool_2d_pads", NULL},
        {"node/test_averagepool_2d_pads_count_include_pad", NULL},
        {"node/test_averagepool_2d_precomputed_pads", NULL},
        {"node/test_averagepool_2d_precomputed_pads_count_include_pad", NULL},
        {"node/test_averagepool_2d_precomputed_same_upper", NULL},
        {"node/test_averagepool_2d_precomputed_strides", NULL},
        {"node/test_averagepool_2d_same_lower", NULL},
        {"node/test_averagepool_2d_same_upper", NULL},
        {"node/test_averagepool_2d_strides", NULL},
        {"node/test_averagepool_3d_default", "3-D pooling"},
        {"node/test_globalaveragepool", NULL},
        {"node/test_globalaveragepool_precomputed", NULL},
        {"pytorch-converted/test_AvgPool1d", NULL},
        {"pytorch-converted/test_AvgPool1d_stride", NULL},
        {"pytorch-converted/test_AvgPool2d", NULL},
        {"pytorch-converted/test_AvgPool2d_stride", NULL},
        {"pytorch-converted/test_AvgPool3d", "3-D pooling"},
        {"pytorch-converted/test_AvgPool3d_stride", "3-D pooling"},
        {"pytorch-converted/test_AvgPool3d_stride1_pad0_gpu_input", "3-D pooling"},
    };
    RUN(l);
}

TEST(batchnorm) {
    static const entry l[] = {
        {"node/test_batchnorm_example", NULL},
        {"node/test_batchnorm_epsilon", NULL},
        {"node/test_batchnorm_example_training_mode", "training mode"},
        {"node/test_batchnorm_epsilon_training_mode", "training mode"},
        {"pytorch-converted/test_BatchNorm1d_3d_input_eval", NULL},
        {"pytorch-converted/test_BatchNorm2d_eval", NULL},
        {"pytorch-converted/test_BatchNorm2d_momentum_eval", NULL},
        {"pytorch-converted/test_BatchNorm3d_eval", NULL},
        {"pytorch-converted/test_BatchNorm3d_momentum_eval", NULL},
    };
    RUN_HE(l);
}

TEST(concat) {
    static const entry l[] = {
        {"node/test_concat_1d_axis_0", NULL},
        {"node/test_concat_1d_axis_negative_1", NULL},
        {"node/test_concat_2d_axis_0", NULL},
        {"node/test_concat_2d_axis_1", NULL},
        {"node/test_concat_2d_axis_negative_1", NULL},
        {"node/test_concat_2d_axis_negative_2", NULL},
        {"node/test_concat_3d_axis_0", NULL},
        {"node/test_concat_3d_axis_1", NULL},
        {"node/test_concat_3d_axis_2", NULL},
        {"node/test_concat_3d_axis_negative_1", NULL},
        {"node/test_concat_3d_axis_negative_2", NULL},
        {"node/test_concat_3d_axis_negative_3", NULL},
    };
    RUN(l);
}

TEST(flatten_reshape) {
    static const entry l[] = {
        {"node/test_flatten_axis0", NULL},
        {"node/test_flatten_axis1", NULL},
        {"node/test_flatten_axis2", NULL},
        {"node/test_flatten_axis3", NULL},
        {"node/test_flatten_default_axis", NULL},
        {"node/test_flatten_negative_axis1", NULL},
        {"node/test_flatten_negative_axis2", NULL},
        {"node/test_flatten_negative_axis3", NULL},
        {"node/test_flatten_negative_axis4", NULL},
        {"node/test_reshape_extended_dims", NULL},
        {"node/test_reshape_negative_dim", NULL},
        {"node/test_reshape_negative_extended_dims", NULL},
        {"node/test_reshape_one_dim", NULL},
        {"node/test_reshape_reduced_dims", NULL},
        {"node/test_reshape_reordered_all_dims", NULL},
        {"node/test_reshape_reordered_last_dims", NULL},
        {"node/test_reshape_zero_and_negative_dim", NULL},
        {"node/test_reshape_zero_dim", NULL},
        {"node/test_reshape_allowzero_reordered", "dimension of 0"},
    };
    RUN(l);
}

TEST(argmax) {
    static const entry l[] = {
        {"node/test_argmax_default_axis_example", NULL},
        {"node/test_argmax_default_axis_random", NULL},
        {"node/test_argmax_keepdims_example", NULL},
        {"node/test_argmax_keepdims_random", NULL},
        {"node/test_argmax_negative_axis_keepdims_example", NULL},
        {"node/test_argmax_negative_axis_keepdims_random", NULL},
        {"node/test_argmax_no_keepdims_example", NULL},
        {"node/test_argmax_no_keepdims_random", NULL},
        {"node/test_argmax_default_axis_example_select_last_index", "select_last_index"},
        {"node/test_argmax_default_axis_random_select_last_index", "select_last_index"},
        {"node/test_argmax_keepdims_example_select_last_index", "select_last_index"},
        {"node/test_argmax_keepdims_random_select_last_index", "select_last_index"},
        {"node/test_argmax_negative_axis_keepdims_example_select_last_index", "select_last_index"},
        {"node/test_argmax_negative_axis_keepdims_random_select_last_index", "select_last_index"},
        {"node/test_argmax_no_keepdims_example_select_last_index", "select_last_index"},
        {"node/test_argmax_no_keepdims_random_select_last_index", "select_last_index"},
    };
    RUN(l);
}

TEST(pad_identity_dropout) {
    static const entry l[] = {
        {"pytorch-converted/test_ZeroPad2d", NULL},
        {"pytorch-converted/test_ConstantPad2d", "only zero padding"},
        {"pytorch-converted/test_ReflectionPad2d", "mode 'reflect'"},
        {"pytorch-converted/test_ReplicationPad2d", "mode 'edge'"},
        {"node/test_constant_pad", "only zero padding"},
        {"node/test_edge_pad", "element type int32"},
        {"node/test_reflect_pad", "element type int32"},
        {"node/test_identity", NULL},
        {"node/test_dropout_default", NULL},
        {"node/test_dropout_default_ratio", NULL},
        {"node/test_dropout_default_old", NULL},
        {"node/test_dropout_random_old", NULL},
        {"node/test_dropout_default_mask", "2 outputs"},
        {"node/test_training_dropout", "training mode"},
        {"node/test_constant", "no input"},
    };
    RUN(l);
}

/* Data movement on computed tensors (ops-move): Slice (positive steps),
 * Split, Resize/Upsample nearest by whole factors. */
TEST(slice_split) {
    static const entry l[] = {
        {"node/test_slice", NULL},
        {"node/test_slice_default_axes", NULL},
        {"node/test_slice_default_steps", NULL},
        {"node/test_slice_end_out_of_bounds", NULL},
        {"node/test_slice_neg", NULL},
        {"node/test_slice_neg_steps", "a negative step on a computed tensor"},
        {"node/test_slice_negative_axes", NULL},
        {"node/test_slice_start_out_of_bounds", "a dimension of 0"},
        {"node/test_split_equal_parts_1d", "3 outputs"},
        {"node/test_split_equal_parts_2d", "2 outputs"},
        {"node/test_split_equal_parts_default_axis", "3 outputs"},
        {"node/test_split_variable_parts_1d", "2 outputs"},
        {"node/test_split_variable_parts_2d", "2 outputs"},
        {"node/test_split_variable_parts_default_axis", "2 outputs"},
        {"node/test_split_zero_size_splits", "a dimension of 0"},
    };
    RUN(l);
}

TEST(resize_upsample) {
    static const entry l[] = {
        {"node/test_upsample_nearest", NULL},
        {"node/test_resize_upsample_scales_nearest", NULL},
        {"node/test_resize_upsample_sizes_nearest", "scale 3.5 of axis 2 is not supported"},
        {"node/test_resize_upsample_sizes_nearest_ceil_half_pixel", "does not repeat each element"},
        {"node/test_resize_upsample_sizes_nearest_floor_align_corners",
         "does not repeat each element"},
        {"node/test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric",
         "does not repeat each element"},
        {"node/test_resize_downsample_scales_nearest", "scale 0.6 of axis 2 is not supported"},
        /* mode linear: RESIZE_LINEAR (public coefficients) and a truncation */
        {"node/test_resize_upsample_scales_linear", NULL},
        {"node/test_resize_upsample_scales_linear_align_corners", NULL},
        {"node/test_resize_downsample_scales_linear", NULL},
        {"node/test_resize_downsample_scales_linear_align_corners", NULL},
        {"node/test_resize_downsample_sizes_linear_pytorch_half_pixel", NULL},
        {"node/test_resize_upsample_scales_cubic", "mode 'cubic' is not supported"},
        {"node/test_resize_tf_crop_and_resize", "'tf_crop_and_resize' is not supported"},
    };
    RUN(l);
}

/* Gather with constant indices (SLICE runs, CONCAT, RESHAPE) and Tile
 * (CONCAT of copies), local on shares; InstanceNormalization refused. */
TEST(gather_tile) {
    static const entry l[] = {
        {"node/test_gather_0", NULL},
        {"node/test_gather_1", NULL},
        {"node/test_gather_2d_indices", NULL},
        {"node/test_gather_negative_indices", NULL},
        {"node/test_tile", NULL},
        {"node/test_tile_precomputed", NULL},
        {"node/test_instancenorm_example", "InstanceNormalization is not supported"},
        {"node/test_instancenorm_epsilon", "InstanceNormalization is not supported"},
    };
    RUN(l);
}

/* ReduceMean / ReduceSum over spatial axes: AVGPOOL / SUMPOOL. */
TEST(reduce) {
    static const entry l[] = {
        {"node/test_reduce_mean_default_axes_keepdims_example", "over the spatial axes"},
        {"node/test_reduce_mean_default_axes_keepdims_random", "over the spatial axes"},
        {"node/test_reduce_mean_do_not_keepdims_example", "over the spatial axes"},
        {"node/test_reduce_mean_keepdims_example", "over the spatial axes"},
        {"node/test_reduce_mean_negative_axes_keepdims_example", "over the spatial axes"},
        {"node/test_reduce_sum_default_axes_keepdims_example", "a dimension of 0"},
        {"node/test_reduce_sum_do_not_keepdims_example", "over the spatial axes"},
        {"node/test_reduce_sum_keepdims_example", "over the spatial axes"},
        {"node/test_reduce_sum_keepdims_random", "over the spatial axes"},
        {"node/test_reduce_sum_negative_axes_keepdims_example", "over the spatial axes"},
        {"node/test_reduce_sum_empty_axes_input_noop_example", "a dimension of 0"},
    };
    RUN(l);
}

/* ConvTranspose as DILATE + CONV, in both modes. */
TEST(convtranspose) {
    static const entry l[] = {
        {"node/test_convtranspose", NULL},
        {"node/test_convtranspose_1d", NULL},
        {"node/test_convtranspose_3d", "is not N x C x H x W or N x C x W"},
        {"node/test_convtranspose_autopad_same", NULL},
        {"node/test_convtranspose_dilations", "does not fit the public weight width"},
        {"node/test_convtranspose_kernel_shape", NULL},
        {"node/test_convtranspose_output_shape", NULL},
        {"node/test_convtranspose_pad", NULL},
        {"node/test_convtranspose_pads", NULL},
        {"node/test_convtranspose_with_kernel", NULL},
        {"pytorch-converted/test_ConvTranspose2d", NULL},
        {"pytorch-converted/test_ConvTranspose2d_no_bias", NULL},
    };
    RUN_HE(l);
}
