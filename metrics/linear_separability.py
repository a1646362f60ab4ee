"""Linear Separability (LS), computed as the official StyleGAN metric does.

`num_samples` generated images (random noise, no truncation), downsampled to 256x256 when larger;
each of the 40 CelebA-HQ attribute classifiers gives logits l and p = softmax([l, -l]); per attribute
the `num_keep` most confident samples are kept, a linear SVM (`sklearn.svm.LinearSVC`) is fitted
to predict the classifier's label from z and from w (the last layer's dlatent), and the conditional
entropy H(classifier label | SVM label) in bits is computed from the 2x2 joint frequencies. Score
per space: 2 ** sum_i H_i (the official code; the paper writes exp(sum_i H_i)).
"""

import hashlib
import os
import sys
from collections import defaultdict

import numpy as np
import tensorflow as tf

import dnnlib
from metrics import feature_nets
from metrics import metric_base
from stylegan_tf import directions


def prob_normalize(p):
    p = np.asarray(p).astype(np.float32)
    assert len(p.shape) == 2
    return p / np.sum(p)


def entropy(p):
    """Joint entropy in bits of a 2-D table of (unnormalised) probabilities."""
    p = prob_normalize(p)
    nz = p[p > 0.0]
    return float(-np.sum(nz * np.log2(nz)))


def mutual_information(p):
    """I(X; Y) in bits, X along axis 0 and Y along axis 1."""
    p = prob_normalize(p)
    px = np.sum(p, axis=1, keepdims=True)
    py = np.sum(p, axis=0, keepdims=True)
    mask = p > 0.0
    return float(np.sum(p[mask] * np.log2(p[mask] / (px * py)[mask])))


def conditional_entropy(p):
    """H(Y | X) = H(Y) - I(X; Y) in bits (X = axis 0), clamped at 0 like the official code."""
    p = prob_normalize(p)
    y = np.sum(p, axis=0, keepdims=True)
    return max(0.0, entropy(y) - mutual_information(p))


def joint_table(svm_outputs, targets):
    """2x2 table p[row][col] = frequency of (svm output == row and target == col)."""
    svm_outputs = np.asarray(svm_outputs)
    targets = np.asarray(targets)
    return [[float(np.mean((svm_outputs == row) & (targets == col))) for col in (0, 1)] for row in (0, 1)]


def attribute_conditional_entropy(inputs, predictions, num_keep):
    """Fit the SVM on the `num_keep` most confident samples and return H(target | SVM output)."""
    order = np.argsort(-np.max(predictions, axis=1), kind="stable")[:num_keep]
    targets = np.argmax(predictions[order], axis=1)
    x = inputs[order]
    try:
        outputs = directions.fit_svm(x, targets).predict(x)
    except Exception:  # e.g. a single class: the official code assumes perfect prediction
        outputs = targets
    return conditional_entropy(joint_table(outputs, targets))


def separability_scores(results, attrib_indices, num_samples, num_keep):
    """{'latents': score_z, 'dlatents': score_w} from sampled latents, dlatents and predictions."""
    cond = defaultdict(list)
    for attrib_idx in attrib_indices:
        preds = results[attrib_idx][:num_samples]
        for space in ["latents", "dlatents"]:
            cond[space].append(attribute_conditional_entropy(results[space][:num_samples], preds, num_keep))
    return {key: 2 ** np.sum(values) for key, values in cond.items()}


DIGITS = "digits"  # --ls_classifiers digits: the demo's digit classifier, "digit k" against the rest


def attribute_name(attrib_idx):
    """Name of a CelebA-HQ attribute index ("male", ...), or "attrNN" beyond the official 40."""
    names = feature_nets.CELEBAHQ_ATTRIBUTES
    return names[attrib_idx] if 0 <= attrib_idx < len(names) else "attr%02d" % attrib_idx


class LS(metric_base.MetricBase):
    """Linear separability. `directions_dir`: also write each attribute's editing direction in W there,
    `<attribute>.npy`, fitted on the `directions_ratio` most and least attribute-like samples
    (`stylegan_tf.directions.fit_direction`)."""

    def __init__(self, num_samples, num_keep, attrib_indices, minibatch_per_gpu, directions_dir=None,
                 directions_ratio=0.02, **kwargs):
        assert num_keep <= num_samples
        super().__init__(**kwargs)
        self.num_samples = num_samples
        self.num_keep = num_keep
        self.attrib_indices = list(attrib_indices)
        self.minibatch_per_gpu = minibatch_per_gpu
        self.directions_dir = directions_dir
        self.directions_ratio = directions_ratio

    def _load_classifiers(self, strategy):
        """(attribute indices, classifier networks): all of the metric's attributes, or the one
        attribute of a single classifier file; or the ten digits of the demo's digit classifier."""
        if self.feature_args.ls_classifiers == DIGITS:
            from metrics import digit_classifier
            clfs = self._cached_feature_net(("ls", DIGITS), lambda: digit_classifier.attribute_classifiers(
                self.cache_dir, verbose=self.progress))
            return list(range(len(clfs))), clfs
        try:
            indices, paths = feature_nets.resolve_classifiers(self.feature_args.ls_classifiers, self.attrib_indices)
            if indices != self.attrib_indices:
                print("%s: one classifier given: linear separability of attribute %d (%s) only"
                      % (self.name, indices[0], feature_nets.CELEBAHQ_ATTRIBUTES[indices[0]]), file=sys.stderr)
            sums = self.feature_args.ls_sha256
            sums = sums.split(",") if isinstance(sums, str) else (sums or [None] * len(paths))
            if len(sums) != len(paths):
                raise feature_nets.FeatureNetworkError("--ls_sha256 has %d checksums for %d classifiers"
                                                       % (len(sums), len(paths)))
            def load():
                with strategy.scope():
                    nets = [feature_nets.load_classifier(p, cache_dir=self.cache_dir, sha256=s)
                            for p, s in zip(paths, sums)]
                for idx, net in zip(indices, nets):
                    net.attribute = attribute_name(idx)
                return nets
            return indices, self._cached_feature_net(("ls", tuple(paths), tuple(sums), id(strategy)), load)
        except feature_nets.FeatureNetworkError as e:
            raise metric_base.FeatureNetworkUnavailable(str(e)) from None

    def _note_classifiers(self, classifiers):
        """One note for all classifiers: the single file, or '<dir or first file>+N' and the SHA-256
        of their SHA-256s in attribute order."""
        if len(classifiers) == 1:
            self._note_feature_net("ls_classifier", classifiers[0].source, classifiers[0].sha256)
            return
        combined = hashlib.sha256("".join(c.sha256 for c in classifiers).encode("ascii")).hexdigest()
        first = classifiers[0].source
        self._note_feature_net("ls_classifiers", "%s+%d" % (os.path.basename(first), len(classifiers) - 1), combined)

    def _evaluate(self, Gs, num_gpus):
        metric_base.require_style_components(Gs, self.name)
        minibatch_size = num_gpus * self.minibatch_per_gpu
        attrib_indices, classifiers = self._load_classifiers(self._active_strategy or tf.distribute.get_strategy())
        self._note_classifiers(classifiers)
        for clf in classifiers:
            if getattr(clf, "any_resolution", False):
                continue
            res_clf = int(clf.input_shape[-1])
            res_g = min(int(Gs.output_shape[-1]), 256)
            if res_clf != res_g:
                raise metric_base.MetricError("LS classifier %r takes %dx%d images; the generator gives %dx%d"
                                              % (clf.name, res_clf, res_clf, res_g, res_g))

        def replica(latents, labels):
            dlatents = Gs.components.mapping.get_output_for(latents, labels, is_validation=True)
            images = Gs.components.synthesis.get_output_for(dlatents, is_validation=True, randomize_noise=True)
            if images.shape[2] > 256:  # the classifiers take 256x256
                factor = images.shape[2] // 256
                images = tf.reshape(images, [-1, images.shape[1], images.shape[2] // factor, factor,
                                             images.shape[3] // factor, factor])
                images = tf.reduce_mean(images, axis=[3, 5])
            out = dict(latents=latents, dlatents=dlatents[:, -1])
            for attrib_idx, clf in zip(attrib_indices, classifiers):
                logits = clf.get_output_for(images, None)
                if isinstance(logits, (list, tuple)):
                    logits = logits[0]
                out["attr%d" % attrib_idx] = tf.nn.softmax(tf.concat([logits, -logits], axis=1))
                out["logit%d" % attrib_idx] = logits[:, 0]
            return out

        run = self._make_runner(replica)
        chunks = []
        num_steps = (self.num_samples - 1) // minibatch_size + 1
        progress = dnnlib.util.Progress(label=self.name, total=num_steps * minibatch_size, enabled=self.progress)
        for _ in range(num_steps):
            chunks.append(run(self._random_latents(minibatch_size, Gs), self._random_labels(minibatch_size, Gs)))
            progress.advance(minibatch_size)
        progress.close()
        results = {key: np.concatenate([c[key] for c in chunks], axis=0) for key in chunks[0]}
        results.update({idx: results.pop("attr%d" % idx) for idx in attrib_indices})
        scores = separability_scores(results, attrib_indices, self.num_samples, self.num_keep)
        if self.directions_dir:
            self._write_directions(results, attrib_indices, classifiers)
        self._report_result(scores["latents"], suffix="_z")
        self._report_result(scores["dlatents"], suffix="_w")

    def _write_directions(self, results, attrib_indices, classifiers):
        """Fit and save each attribute's editing direction in W (`stylegan_tf.directions.fit_direction` on
        the classifier's logits, InterFaceGAN's recipe) and say how far apart the two sides lie along it."""
        w = results["dlatents"][:self.num_samples]
        for attrib_idx, clf in zip(attrib_indices, classifiers):
            name = getattr(clf, "attribute", None) or attribute_name(attrib_idx)
            logits = results["logit%d" % attrib_idx][:self.num_samples]
            try:
                normal = directions.fit_direction(w, logits, ratio=self.directions_ratio)
            except directions.DirectionError as e:
                print("%s: no direction for %s: %s" % (self.name, name, e))
                continue
            path = os.path.join(self.directions_dir, name + ".npy")
            directions.save_direction(path, normal)
            stats = directions.projection_stats(w, normal, logits > 0)
            print("%s: wrote %s (%d%% of samples present; along it, w . n has std %.3f and mean(present) - "
                  "mean(absent) %.3f)" % (self.name, path, round(100 * np.mean(logits > 0)), stats.std,
                                          stats.separation))
